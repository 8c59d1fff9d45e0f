DROP TABLE IF EXISTS recon_progress;
DROP TABLE IF EXISTS recon_events;
DROP TABLE IF EXISTS recon_results;
DROP TABLE IF EXISTS recon_items;
DROP TABLE IF EXISTS settlements;
