//! Cron-scheduled jobs: the daily digest to departments (working days only), the weekly
//! summary to supervisors, the monthly ranking of departments (考评) to supervisors, and the
//! knowledge-base renewal reminder to the departments owning articles past or near their
//! validity (working days only), and the training of the intake-assistance model
//! (`crate::suggest`). Expressions come from the configuration and are read in Beijing
//! time. Each run is claimed in `job_runs` first, so with several instances it happens once;
//! and the mail it queues is keyed by day or week, so even a retried run sends once.

use crate::config::Config;
use crate::domain::assessment;
use crate::domain::calendar::{china_offset, DurationUnit, SlaDuration};
use crate::domain::kb;
use crate::domain::notices::{
    digest_notice, monthly_assessment_notice, weekly_summary_notice, NoticeSettings, WorkLoad,
};
use crate::domain::ticket::Ticket;
use crate::http::AppState;
use crate::store::StoreError;
use chrono::{DateTime, Utc};
use cron::Schedule;
use std::collections::BTreeMap;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    DailyDigest,
    WeeklySummary,
    MonthlyAssessment,
    KbExpiry,
    /// Intake assistance: a new model version from the centre's tickets.
    SuggestTrain,
}

#[derive(Debug, Clone)]
pub struct ScheduledJob {
    pub name: &'static str,
    pub kind: JobKind,
    pub schedule: Schedule,
    /// Skip runs that fall on a day off (weekends, holidays); makeup working days count.
    pub working_days_only: bool,
}

impl ScheduledJob {
    /// The next run strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&after.with_timezone(&china_offset())).next().map(|t| t.to_utc())
    }
}

pub fn jobs(config: &Config) -> Result<Vec<ScheduledJob>, String> {
    let parse = |key: &str, expression: &str| {
        Schedule::from_str(expression).map_err(|e| format!("configuration: {key}: {expression:?}: {e}"))
    };
    Ok(vec![
        ScheduledJob {
            name: "daily_digest",
            kind: JobKind::DailyDigest,
            schedule: parse("digest_cron", &config.digest_cron)?,
            working_days_only: true,
        },
        ScheduledJob {
            name: "weekly_summary",
            kind: JobKind::WeeklySummary,
            schedule: parse("weekly_summary_cron", &config.weekly_summary_cron)?,
            working_days_only: false,
        },
        ScheduledJob {
            name: "monthly_assessment",
            kind: JobKind::MonthlyAssessment,
            schedule: parse("monthly_assessment_cron", &config.monthly_assessment_cron)?,
            working_days_only: false,
        },
        ScheduledJob {
            name: "kb_expiry",
            kind: JobKind::KbExpiry,
            schedule: parse("kb_expiry_cron", &config.kb_expiry_cron)?,
            // Department mail, like the digest: a reminder on a day off is read on the next
            // working day anyway, next to that day's.
            working_days_only: true,
        },
        ScheduledJob {
            name: "suggest_train",
            kind: JobKind::SuggestTrain,
            schedule: parse("suggest_train_cron", &config.suggest_train_cron)?,
            working_days_only: false,
        },
    ])
}

/// Waits for each job's next run and runs it, until `shutdown`.
pub async fn run(state: AppState, jobs: Vec<ScheduledJob>, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut since = state.store.now();
    loop {
        let Some((at, job)) =
            jobs.iter().filter_map(|j| j.next_after(since).map(|at| (at, j))).min_by_key(|(at, _)| *at)
        else {
            return;
        };
        let wait = (at - state.store.now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut shutdown => return,
        }
        if let Err(e) = run_once(&state, job, at).await {
            tracing::error!(job = job.name, "scheduled job failed: {e}");
        }
        since = at;
    }
}

/// Runs the job's occurrence scheduled for `at`, unless another instance has it. Returns
/// the outcome recorded, or `None` when the run was someone else's.
pub async fn run_once(state: &AppState, job: &ScheduledJob, at: DateTime<Utc>) -> Result<Option<String>, StoreError> {
    if !state.store.claim_job_run(job.name, at).await? {
        return Ok(None);
    }
    let catalog = state.catalog();
    let day = at.with_timezone(&china_offset()).date_naive();
    let outcome = if job.working_days_only && !catalog.calendar.is_working_day(day) {
        format!("skipped: {} is a {}", day, catalog.calendar.day_kind(day).as_word())
    } else {
        match job.kind {
            JobKind::DailyDigest => daily_digest(state, at).await?,
            JobKind::WeeklySummary => weekly_summary(state, at).await?,
            JobKind::MonthlyAssessment => monthly_assessment(state, at).await?,
            JobKind::KbExpiry => kb_expiry(state, at).await?,
            JobKind::SuggestTrain => suggest_train(state).await?,
        }
    };
    state.store.finish_job_run(job.name, at, &outcome).await?;
    tracing::info!(job = job.name, %outcome, "scheduled job ran");
    Ok(Some(outcome))
}

/// 每日待办提醒: each department with overdue tickets or tickets due by the end of the next
/// working day gets one mail listing them.
async fn daily_digest(state: &AppState, at: DateTime<Utc>) -> Result<String, StoreError> {
    let catalog = state.catalog();
    let cutoff = catalog.calendar.due(at, SlaDuration { amount: 1, unit: DurationUnit::WorkingDays }).at;
    let mut by_department: BTreeMap<String, (Vec<Ticket>, Vec<Ticket>)> = BTreeMap::new();
    for ticket in state.store.tickets_due_before(cutoff).await? {
        let Some(lead) = ticket.lead.clone() else { continue };
        let entry = by_department.entry(lead).or_default();
        if ticket.reply_due_at.is_some_and(|due| due < at) {
            entry.0.push(ticket);
        } else {
            entry.1.push(ticket);
        }
    }
    let supervisors = state.config.supervisors();
    let settings = NoticeSettings {
        public_base_url: &state.config.public_base_url,
        supervisors: &supervisors,
        policies: &catalog.policies,
    };
    let day = at.with_timezone(&china_offset()).date_naive();
    let mut queued = 0;
    for (department, (overdue, near_due)) in &by_department {
        if let Some(mail) = digest_notice(department, day, overdue, near_due, &catalog.district, &settings) {
            queued += usize::from(state.store.enqueue_mail_now(&mail).await?.is_some());
        }
    }
    Ok(format!("digest queued for {queued} of {} departments", by_department.len()))
}

/// 每周工单汇总 to the supervisors.
async fn weekly_summary(state: &AppState, at: DateTime<Utc>) -> Result<String, StoreError> {
    let catalog = state.catalog();
    let loads: Vec<WorkLoad> = state
        .store
        .department_load(at)
        .await?
        .into_iter()
        .map(|l| WorkLoad { department: l.department, open: l.open, overdue: l.overdue, late_listed: l.late_listed })
        .collect();
    let supervisors = state.config.supervisors();
    let settings = NoticeSettings {
        public_base_url: &state.config.public_base_url,
        supervisors: &supervisors,
        policies: &catalog.policies,
    };
    let week_of = at.with_timezone(&china_offset()).date_naive();
    let mut queued = 0;
    for mail in weekly_summary_notice(week_of, &loads, &catalog.district, &settings) {
        queued += usize::from(state.store.enqueue_mail_now(&mail).await?.is_some());
    }
    Ok(format!("summary of {} departments queued for {queued} supervisors", loads.len()))
}

/// 月度考评通报: the ranking of the Beijing-time month before `at`, to the supervisors, with
/// the CSV attached. Keyed by month and address, so a retried run sends once.
async fn monthly_assessment(state: &AppState, at: DateTime<Utc>) -> Result<String, StoreError> {
    let catalog = state.catalog();
    let month = assessment::previous_month(at);
    let period = assessment::month_period(&month).expect("previous_month writes a valid month");
    // Validated at start-up, so this cannot fail; the default keeps the job total.
    let weights = state.config.weights().unwrap_or_default();
    let ranking = state.store.assessment(&catalog.district, period, &weights).await?;
    let supervisors = state.config.supervisors();
    let settings = NoticeSettings {
        public_base_url: &state.config.public_base_url,
        supervisors: &supervisors,
        policies: &catalog.policies,
    };
    let mut queued = 0;
    for mail in monthly_assessment_notice(&month, &ranking.departments, &weights, &catalog.district, &settings) {
        queued += usize::from(state.store.enqueue_mail_now(&mail).await?.is_some());
    }
    let ranked = ranking.departments.iter().filter(|d| d.rank.is_some()).count();
    Ok(format!("ranking of {month} ({ranked} departments ranked) queued for {queued} supervisors"))
}

/// 智能辅助填单: trains a new model version and puts it in force here (the other instances
/// find it within `suggest::REFRESH`).
async fn suggest_train(state: &AppState) -> Result<String, StoreError> {
    let stored = crate::suggest::train(&state.store, state.catalog()).await?;
    let outcome = crate::suggest::describe(&stored);
    state.suggester().install(stored);
    Ok(outcome)
}

/// 知识库到期提醒: each department owning articles past their validity or ending within
/// `kb_expiry_days` gets one mail listing them. Keyed by department and day, so a retried run
/// sends once.
async fn kb_expiry(state: &AppState, at: DateTime<Utc>) -> Result<String, StoreError> {
    let catalog = state.catalog();
    let articles = state.store.articles(None).await?;
    let within_days = state.config.kb_expiry_days;
    let due = kb::due_for_renewal(&articles, at, within_days);
    let day = at.with_timezone(&china_offset()).date_naive();
    let mut queued = 0;
    for (department, list) in &due {
        if let Some(mail) = kb::renewal_notice(department, day, list, at, within_days, &catalog.district) {
            queued += usize::from(state.store.enqueue_mail_now(&mail).await?.is_some());
        }
    }
    Ok(format!("renewal reminders queued for {queued} of {} departments", due.len()))
}
