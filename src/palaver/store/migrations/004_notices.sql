-- A notice is a message that must never be answered automatically (IRC NOTICE, docs/irc.md):
-- stored like any other message, and replayed as a notice.
ALTER TABLE messages ADD COLUMN notice INTEGER NOT NULL DEFAULT 0;
