-- PostgreSQL's migration 0011 turns the event payload and metadata into the JSON text written. SQLite
-- has always stored them as that text, so there is nothing to change here; the version is kept so that
-- both backends number the same steps alike.
SELECT 1;
