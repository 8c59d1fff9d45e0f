DROP TRIGGER IF EXISTS rollouts_rollback_audit;
DROP TABLE IF EXISTS rollout_counts;
DROP TABLE IF EXISTS rollouts;
