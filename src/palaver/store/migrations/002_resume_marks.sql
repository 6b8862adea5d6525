-- Where each account stopped reading its direct conversations, saved when its last session ends;
-- its next login replays what came after (offline direct messages).
CREATE TABLE resume_marks (
    account_key TEXT NOT NULL,
    conversation TEXT NOT NULL,
    msg_id BIGINT NOT NULL,
    PRIMARY KEY (account_key, conversation)
);
