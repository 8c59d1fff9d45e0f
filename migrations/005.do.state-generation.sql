-- The generation of the windowed state in Redis (issue 4). Redis keys carry it (<prefix>:g<n>:...),
-- and a rebuild moves to the next one. Each batch's MySQL transaction reads it with a shared lock
-- and gives up if it is not the generation its Redis scripts ran under; the rebuild's UPDATE waits
-- for those transactions, so every row it then replays is one whose effects it rebuilds, and no
-- batch whose Redis effects went to an abandoned generation can commit.
CREATE TABLE IF NOT EXISTS state_generation (
  id TINYINT UNSIGNED NOT NULL,
  generation BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (id)
) ENGINE = InnoDB;
INSERT IGNORE INTO state_generation (id, generation) VALUES (1, 0);
