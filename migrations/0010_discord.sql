-- Discord: the live messages the bot posted for workflow entities (an
-- incident's card in the incidents channel; later a content item's review
-- request), so that every later change to the entity, wherever it came from,
-- edits them in place.

CREATE TABLE discord_messages (
    workflow        text NOT NULL,
    entity_id       text NOT NULL,
    channel_id      text NOT NULL,
    message_id      text NOT NULL,
    -- the newest event of the entity the message shows; a newer one means it is stale
    rendered_event  bigint NOT NULL DEFAULT 0,
    posted_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (workflow, entity_id, channel_id)
);
