DROP TABLE IF EXISTS rule_shadow_counts;
DROP TABLE IF EXISTS rule_set_registry;
DROP TABLE IF EXISTS rule_sets;
