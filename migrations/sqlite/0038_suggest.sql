-- Intake assistance (智能辅助填单, issue 18).
--
-- suggest_models: each trained version of the category model. `body` is what the centre's
-- tickets taught (per leaf category, its ticket count and in how many of them each word
-- occurred; domain::suggest::History as JSON); the centre's own words from categories.toml
-- are added when a server loads it. `up_to_ticket`: the highest ticket id learned from.
CREATE TABLE suggest_models (
    version      INTEGER PRIMARY KEY AUTOINCREMENT,
    trained_at   BIGINT NOT NULL,
    tickets      BIGINT NOT NULL,
    up_to_ticket BIGINT NOT NULL,
    body         TEXT NOT NULL
);

-- suggestion_outcomes: a ticket logged with the suggestions the operator was shown (JSON
-- array of category codes, best first) and the category chosen; `taken_rank` is its 1-based
-- place among them, NULL when the operator overrode them. One row per ticket.
CREATE TABLE suggestion_outcomes (
    ticket_id     BIGINT PRIMARY KEY,
    recorded_at   BIGINT NOT NULL,
    model_version BIGINT NOT NULL,
    shown         TEXT NOT NULL,
    chosen        TEXT NOT NULL,
    taken_rank    BIGINT
);
CREATE INDEX suggestion_outcomes_recorded ON suggestion_outcomes (recorded_at);
