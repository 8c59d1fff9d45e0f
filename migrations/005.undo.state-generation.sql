DROP TABLE IF EXISTS state_generation;
