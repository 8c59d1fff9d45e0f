DROP TABLE IF EXISTS recon_supersessions;
