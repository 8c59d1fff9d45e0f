DROP TABLE IF EXISTS api_sessions;
