//! `hotline report --month 2026-10`: the monthly assessment (考评) as CSV, computed from the
//! event log exactly as the API computes it (`GET /api/v1/assessment.csv`).

use crate::catalog::Catalog;
use crate::domain::assessment::{self, Weights};
use crate::store::Store;

/// The ranking of the Beijing-time `month` (`2026-10`) as CSV, ranked, one line per
/// department (without the byte-order mark the download adds for spreadsheets).
pub async fn monthly_report(
    store: &Store,
    catalog: &Catalog,
    month: &str,
    weights: &Weights,
) -> Result<String, String> {
    let period = assessment::month_period(month.trim())?;
    let a = store
        .assessment(&catalog.district, period, weights)
        .await
        .map_err(|e| format!("reading the event log failed: {e}"))?;
    Ok(assessment::to_csv(&a.departments, &catalog.district))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_empty_month_lists_every_department_without_a_score() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/hotline.db", dir.path().display());
        let store = Store::connect(&url, 2, crate::store::system_clock()).await.unwrap();
        let catalog =
            Catalog::load(&std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dispatch_rules")).unwrap();
        let csv = monthly_report(&store, &catalog, "2026-10", &Weights::default()).await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("排名(rank),"));
        assert_eq!(lines.len(), catalog.district.departments.len(), "a header and every department but the centre");
        assert!(lines[1..].iter().all(|l| l.starts_with("—,") && l.ends_with(",—")));
        let e = monthly_report(&store, &catalog, "October", &Weights::default()).await.unwrap_err();
        assert!(e.starts_with("month:"), "{e}");
        store.close().await;
    }
}
