//! An agency's usage by month (Bangkok time): letters by channel and status, pages and sheets
//! printed, e-mails sent; and the prices its administrator set for an estimate of the cost.
//! Counts are grouped by the hour in SQL (the same text prefix on both databases) and folded
//! into Bangkok months here, so a letter sent at 01:00 on the 1st in Bangkok counts in that
//! month, not the one before as in UTC.

use std::collections::BTreeMap;

use hybridpost_core::AgencyId;
use sqlx::{AnyConnection, Row};

use crate::{Result, StoreError};

/// One month of an agency's usage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthUsage {
    /// `YYYY-MM`, Bangkok time.
    pub month: String,
    /// Letters sent, by channel.
    pub by_channel: BTreeMap<String, i64>,
    /// Letters sent, by their status now.
    pub by_status: BTreeMap<String, i64>,
    /// Pages and sheets of the letters printed.
    pub pages: i64,
    /// Sheets of paper.
    pub sheets: i64,
    /// E-mails sent (notices to citizens and to the agency).
    pub emails: i64,
}

impl MonthUsage {
    /// Letters sent in the month.
    pub fn letters(&self) -> i64 {
        self.by_channel.values().sum()
    }
}

/// The prices for the estimate, in satang.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prices {
    /// Per letter sent.
    pub letter: Option<i64>,
    /// Per sheet printed.
    pub sheet: Option<i64>,
    /// Per e-mail sent.
    pub email: Option<i64>,
}

impl Prices {
    /// Whether any price is set.
    pub fn any(&self) -> bool {
        self.letter.is_some() || self.sheet.is_some() || self.email.is_some()
    }

    /// The estimated cost of a month, in satang.
    pub fn cost(&self, m: &MonthUsage) -> i64 {
        m.letters() * self.letter.unwrap_or(0) + m.sheets * self.sheet.unwrap_or(0) + m.emails * self.email.unwrap_or(0)
    }
}

/// The Bangkok month of an hour bucket `YYYY-MM-DDTHH` (UTC).
fn bangkok_month(hour: &str) -> Option<String> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]");
    let at = time::PrimitiveDateTime::parse(hour, &format).ok()?.assume_utc() + time::Duration::hours(7);
    Some(format!("{:04}-{:02}", at.year(), u8::from(at.month())))
}

/// The agency's live usage since `since` (RFC 3339, UTC), month by month, oldest first.
pub async fn agency_usage(conn: &mut AnyConnection, agency_id: AgencyId, since: &str) -> Result<Vec<MonthUsage>> {
    let mut months: BTreeMap<String, MonthUsage> = BTreeMap::new();
    fn month<'m>(months: &'m mut BTreeMap<String, MonthUsage>, hour: &str) -> Result<&'m mut MonthUsage> {
        let m = bangkok_month(hour).ok_or_else(|| StoreError::Corrupt(format!("a stored time {hour:?}")))?;
        Ok(months.entry(m.clone()).or_insert_with(|| MonthUsage { month: m, ..MonthUsage::default() }))
    }
    let letters = sqlx::query(
        "select substr(created_at, 1, 13) as hour, channel, status, count(*) as n from letter \
         where agency_id = $1 and test = 0 and created_at >= $2 \
         group by substr(created_at, 1, 13), channel, status",
    )
    .bind(agency_id.to_string())
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    for r in &letters {
        let (hour, channel, status): (String, String, String) =
            (r.try_get("hour")?, r.try_get("channel")?, r.try_get("status")?);
        let n: i64 = r.try_get("n")?;
        let m = month(&mut months, &hour)?;
        *m.by_channel.entry(channel).or_default() += n;
        *m.by_status.entry(status).or_default() += n;
    }
    // Printed: letters whose batch was printed (they have moved past `batched`).
    let printed = sqlx::query(
        "select substr(l.created_at, 1, 13) as hour, cast(sum(b.pages) as bigint) as pages, \
         cast(sum(b.sheets) as bigint) as sheets \
         from print_batch_letter b join letter l on l.letter_id = b.letter_id \
         where l.agency_id = $1 and l.test = 0 and l.created_at >= $2 and b.sheets is not null \
         and l.status in ('printed', 'dispatched', 'delivered', 'returned', 'reply_received') \
         group by substr(l.created_at, 1, 13)",
    )
    .bind(agency_id.to_string())
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    for r in &printed {
        let hour: String = r.try_get("hour")?;
        let (pages, sheets): (Option<i64>, Option<i64>) = (r.try_get("pages")?, r.try_get("sheets")?);
        let m = month(&mut months, &hour)?;
        m.pages += pages.unwrap_or(0);
        m.sheets += sheets.unwrap_or(0);
    }
    let emails = sqlx::query(
        "select substr(created_at, 1, 13) as hour, count(*) as n from notification \
         where agency_id = $1 and kind = 'email' and status = 'sent' and created_at >= $2 \
         group by substr(created_at, 1, 13)",
    )
    .bind(agency_id.to_string())
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    for r in &emails {
        let hour: String = r.try_get("hour")?;
        let n: i64 = r.try_get("n")?;
        month(&mut months, &hour)?.emails += n;
    }
    Ok(months.into_values().collect())
}

/// The agency's prices for the estimate.
pub async fn agency_prices(conn: &mut AnyConnection, agency_id: AgencyId) -> Result<Prices> {
    let row = sqlx::query(
        "select price_letter_satang, price_sheet_satang, price_email_satang from agency where agency_id = $1",
    )
    .bind(agency_id.to_string())
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(Prices::default()) };
    Ok(Prices {
        letter: r.try_get("price_letter_satang")?,
        sheet: r.try_get("price_sheet_satang")?,
        email: r.try_get("price_email_satang")?,
    })
}

/// Sets the agency's prices.
pub async fn set_agency_prices(conn: &mut AnyConnection, agency_id: AgencyId, p: Prices) -> Result<bool> {
    let n = sqlx::query(
        "update agency set price_letter_satang = $1, price_sheet_satang = $2, price_email_satang = $3 \
         where agency_id = $4",
    )
    .bind(p.letter)
    .bind(p.sheet)
    .bind(p.email)
    .bind(agency_id.to_string())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_fold_into_bangkok_months() {
        assert_eq!(bangkok_month("2026-11-30T16").as_deref(), Some("2026-11"));
        assert_eq!(bangkok_month("2026-11-30T17").as_deref(), Some("2026-12"), "midnight in Bangkok");
        assert_eq!(bangkok_month("2026-12-31T20").as_deref(), Some("2027-01"));
        assert_eq!(bangkok_month("garbage"), None);
    }
}
