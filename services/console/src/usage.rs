//! An agency's usage report: the last twelve months (Bangkok time), letters by channel and
//! status, pages and sheets printed, e-mails sent, and a cost estimate from the prices its
//! administrator set in Settings; on a page and as CSV.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use hybridpost_core::{AgencyId, LetterStatus};
use hybridpost_store::usage::{self, MonthUsage, Prices};

use crate::letters::{agency_of, status_name};
use crate::pages::{self, Lang};
use crate::returns::{csv_file, push_csv_row};
use crate::today::number;
use crate::{ConsoleState, SignedIn, audit, me_context};

/// How many months the report covers, this one included.
const MONTHS: i64 = 12;

/// Satang as baht for reading: `1,234.50`.
pub(crate) fn baht(satang: i64) -> String {
    format!("{}.{:02}", number(satang / 100), (satang % 100).abs())
}

/// Baht as typed (`3`, `3.5`, `3.50`, `1,000`) in satang; `None` for an empty field.
pub(crate) fn parse_baht(text: &str) -> Result<Option<i64>, ()> {
    let text = text.trim().replace(',', "");
    if text.is_empty() {
        return Ok(None);
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty()
        || whole.len() > 9
        || fraction.len() > 2
        || !(whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()))
    {
        return Err(());
    }
    let whole: i64 = whole.parse().map_err(|_| ())?;
    let fraction: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<2}").parse().map_err(|_| ())? };
    Ok(Some(whole * 100 + fraction))
}

/// The first moment of the month `MONTHS - 1` months before this one, in Bangkok, as stored.
fn since() -> String {
    let now = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7));
    let mut month = now.month();
    let mut year = now.year();
    for _ in 1..MONTHS {
        month = month.previous();
        if month == time::Month::December {
            year -= 1;
        }
    }
    let start = time::Date::from_calendar_date(year, month, 1)
        .unwrap_or(now.date())
        .midnight()
        .assume_offset(time::macros::offset!(+7));
    hybridpost_store::timestamp_text(start.to_offset(time::UtcOffset::UTC))
}

/// How long a node reuses an agency's counts: the report counts a year of letters, which at
/// national volume takes longer than a page may (see the console benchmark), and a report a
/// minute old says the same to its reader.
const COUNTS_KEPT: std::time::Duration = std::time::Duration::from_secs(60);

type Counts = std::collections::HashMap<(AgencyId, String), (std::time::Instant, Vec<MonthUsage>)>;

/// The agency's months since `since`, counted at most [`COUNTS_KEPT`] ago on this node.
async fn counted(
    conn: &mut hybridpost_store::AnyConnection,
    agency: AgencyId,
    since: String,
) -> hybridpost_store::Result<Vec<MonthUsage>> {
    static COUNTS: std::sync::OnceLock<std::sync::Mutex<Counts>> = std::sync::OnceLock::new();
    let counts = COUNTS.get_or_init(Default::default);
    let key = (agency, since);
    if let Some((at, months)) = counts.lock().unwrap_or_else(|e| e.into_inner()).get(&key)
        && at.elapsed() < COUNTS_KEPT
    {
        return Ok(months.clone());
    }
    let months = usage::agency_usage(conn, agency, &key.1).await?;
    let mut counts = counts.lock().unwrap_or_else(|e| e.into_inner());
    // Only fresh entries stay: one per agency that looked in the last minute.
    counts.retain(|_, (at, _)| at.elapsed() < COUNTS_KEPT);
    counts.insert(key, (std::time::Instant::now(), months.clone()));
    Ok(months)
}

async fn load(state: &ConsoleState, me: &SignedIn) -> Result<(AgencyId, Vec<MonthUsage>, Prices), Response> {
    let agency = agency_of(me)?;
    let found = async {
        let mut conn = state.store.read().await?;
        let months = counted(&mut conn, agency, since()).await?;
        let prices = usage::agency_prices(&mut conn, agency).await?;
        hybridpost_store::Result::<_>::Ok((months, prices))
    }
    .await;
    match found {
        Ok((months, prices)) => Ok((agency, months, prices)),
        Err(e) => {
            tracing::error!("cannot read an agency's usage: {e}");
            Err(pages::unavailable(me.lang))
        }
    }
}

/// A month as its reader names it: `ธ.ค. 2569`, or `Dec 2026`.
fn month_name(month: &str, lang: Lang) -> String {
    let (Some(y), Some(m)) =
        (month.get(..4).and_then(|y| y.parse::<i32>().ok()), month.get(5..7).and_then(|m| m.parse::<u8>().ok()))
    else {
        return month.to_owned();
    };
    let Ok(m) = time::Month::try_from(m) else { return month.to_owned() };
    match lang {
        Lang::Thai => {
            format!("{} {}", hybridpost_thai::thai_month_abbreviation(m), y + hybridpost_thai::BUDDHIST_ERA_OFFSET)
        }
        Lang::English => format!("{} {y}", &m.to_string()[..3]),
    }
}

/// The statuses the report shows as columns.
const STATUS_COLUMNS: [LetterStatus; 4] =
    [LetterStatus::Delivered, LetterStatus::Returned, LetterStatus::ReplyReceived, LetterStatus::Cancelled];

pub(crate) async fn usage_page(State(state): State<ConsoleState>, me: SignedIn) -> Response {
    let (_, months, prices) = match load(&state, &me).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let lang = me.lang;
    let count = |m: &MonthUsage, key: &str| m.by_channel.get(key).or(m.by_status.get(key)).copied().unwrap_or(0);
    let rows: Vec<serde_json::Value> = months
        .iter()
        .rev()
        .map(|m| {
            serde_json::json!({
                "month": month_name(&m.month, lang), "code": m.month, "letters": number(m.letters()),
                "print": number(count(m, "print")), "digital": number(count(m, "digital")),
                "statuses": STATUS_COLUMNS.iter().map(|s| number(m.by_status.get(s.as_str()).copied().unwrap_or(0))).collect::<Vec<_>>(),
                "pages": number(m.pages), "sheets": number(m.sheets), "emails": number(m.emails),
                "cost": prices.any().then(|| baht(prices.cost(m))),
            })
        })
        .collect();
    let status_names: Vec<&str> = STATUS_COLUMNS.iter().map(|s| status_name(*s, lang)).collect();
    pages::render(
        StatusCode::OK,
        "usage.html",
        lang,
        serde_json::json!({
            "me": me_context(&me), "csrf": me.session.csrf_token, "path": "/console/usage",
            "rows": rows, "statuses": status_names, "priced": prices.any(),
            "prices": {"letter": prices.letter.map(baht), "sheet": prices.sheet.map(baht), "email": prices.email.map(baht)},
        }),
    )
}

pub(crate) async fn usage_csv(State(state): State<ConsoleState>, me: SignedIn) -> Response {
    let (agency, months, prices) = match load(&state, &me).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let mut header = vec!["month".to_owned(), "letters".into(), "print".into(), "digital".into()];
    header.extend(LetterStatus::ALL.iter().map(|s| s.as_str().to_owned()));
    header.extend(["pages".into(), "sheets".into(), "emails".into(), "estimated_cost_baht".into()]);
    let mut csv = header.join(",");
    csv.push_str("\r\n");
    for m in &months {
        let mut cells = vec![
            m.month.clone(),
            m.letters().to_string(),
            m.by_channel.get("print").copied().unwrap_or(0).to_string(),
            m.by_channel.get("digital").copied().unwrap_or(0).to_string(),
        ];
        cells.extend(LetterStatus::ALL.iter().map(|s| m.by_status.get(s.as_str()).copied().unwrap_or(0).to_string()));
        cells.extend([m.pages.to_string(), m.sheets.to_string(), m.emails.to_string()]);
        let cost = prices.cost(m);
        cells.push(if prices.any() { format!("{}.{:02}", cost / 100, cost % 100) } else { String::new() });
        push_csv_row(&mut csv, &cells);
    }
    if let Err(r) = audit(&state, &me, "usage.export", &agency.to_string(), None).await {
        return r;
    }
    csv_file("usage.csv", &csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baht_are_read_and_written_as_thai_readers_do() {
        assert_eq!(baht(123_450), "1,234.50");
        assert_eq!(baht(5), "0.05");
        assert_eq!(parse_baht("3.5"), Ok(Some(350)));
        assert_eq!(parse_baht("1,000"), Ok(Some(100_000)));
        assert_eq!(parse_baht(" "), Ok(None));
        for bad in ["3.555", "-1", "abc", "1e3", ".5"] {
            assert_eq!(parse_baht(bad), Err(()), "{bad}");
        }
    }
}
