-- One row per scheduled run of a cron job. The instance that inserts the row runs the job;
-- the others find it taken, so with several instances each run happens once.
CREATE TABLE job_runs (
    job           TEXT NOT NULL,
    scheduled_for BIGINT NOT NULL,
    claimed_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    outcome       TEXT,
    PRIMARY KEY (job, scheduled_for)
);

-- 通报: tickets on the published late list, for the weekly summary.
ALTER TABLE tickets ADD COLUMN late_listed BIGINT NOT NULL DEFAULT 0;
