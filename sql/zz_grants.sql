-- Privileges of finreg_app, the group role of the serving login role (migration 012),
-- granted again by every migrate after every other file, so they cover every table,
-- sequence and function that exists, new ones included. The server reads and writes rows
-- and runs functions; it creates, alters, drops and truncates nothing and never writes
-- schema_migrations. The schema owner (who migrates) keeps every privilege.
-- See docs/security.md.
GRANT USAGE ON SCHEMA public TO finreg_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO finreg_app;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON schema_migrations
    FROM finreg_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO finreg_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO finreg_app;
