//! Returned letters with their reasons, on a page and as CSV for a spreadsheet: for a site's
//! people, the letters scanned back there; for an agency's people, their agency's letters.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hybridpost_core::Workplace;
use hybridpost_store::scan::{self, ReturnsOf, SiteReturn};
use serde::Deserialize;

use crate::batches::{site_of, when};
use crate::pages::{self, Lang};
use crate::{ConsoleState, SignedIn, audit};

/// The periods a person can choose, in days.
const PERIODS: [i64; 3] = [7, 30, 90];
/// Most letters on the page; the CSV holds up to [`MAX_CSV`].
const MAX_PAGE: i64 = 500;
const MAX_CSV: i64 = 20_000;

#[derive(Deserialize)]
pub(crate) struct Period {
    days: Option<i64>,
}

impl Period {
    fn days(&self) -> i64 {
        self.days.filter(|d| PERIODS.contains(d)).unwrap_or(30)
    }
}

async fn load(state: &ConsoleState, me: &SignedIn, days: i64, limit: i64) -> Result<Vec<SiteReturn>, Response> {
    let of = match me.person.workplace {
        Workplace::Site(_) => ReturnsOf::Site(site_of(me)?),
        Workplace::Agency(agency) => ReturnsOf::Agency(agency),
    };
    let since = hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() - time::Duration::days(days));
    let found = async {
        let mut conn = state.store.read().await?;
        scan::returns_since(&mut conn, of, &since, limit).await
    }
    .await;
    found.map_err(|e| {
        tracing::error!("cannot list returns: {e}");
        pages::unavailable(me.lang)
    })
}

fn reason_text(r: &SiteReturn, lang: Lang) -> &'static str {
    match r.reason {
        Some(reason) => lang.pick(reason.thai(), reason.english()),
        None => "–",
    }
}

pub(crate) async fn returns_page(State(state): State<ConsoleState>, me: SignedIn, Query(q): Query<Period>) -> Response {
    let days = q.days();
    let returns = match load(&state, &me, days, MAX_PAGE + 1).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let more = returns.len() > MAX_PAGE as usize;
    let rows: Vec<serde_json::Value> = returns
        .iter()
        .take(MAX_PAGE as usize)
        .map(|r| {
            serde_json::json!({
                "at": when(&r.returned_at, me.lang), "reference": r.letter.reference, "agency": r.agency_name,
                "id": r.letter.letter_id.to_string(),
                "recipient": r.letter.recipient_name(), "postcode": r.letter.postcode, "reason": reason_text(r, me.lang),
            })
        })
        .collect();
    pages::render(
        StatusCode::OK,
        "returns.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(&me),
            "csrf": me.session.csrf_token,
            "path": "/console/returns",
            "days": days,
            "periods": PERIODS,
            "rows": rows,
            "more": more,
        }),
    )
}

/// A CSV cell: quoted when needed, and never read by a spreadsheet as a formula.
pub(crate) fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// One CSV line of `cells`, each quoted as [`csv_cell`] says, ended by CRLF.
pub(crate) fn push_csv_row(csv: &mut String, cells: &[String]) {
    csv.push_str(&cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
    csv.push_str("\r\n");
}

/// A CSV download named `name`, never cached, with a byte-order mark so that spreadsheets read
/// the Thai text as UTF-8.
pub(crate) fn csv_file(name: &str, csv: &str) -> Response {
    hybridpost_web::Download::new("text/csv; charset=utf-8")
        .attachment(name)
        .cache_control("no-store")
        .body(format!("\u{feff}{csv}"))
        .unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn returns_csv(State(state): State<ConsoleState>, me: SignedIn, Query(q): Query<Period>) -> Response {
    let days = q.days();
    let returns = match load(&state, &me, days, MAX_CSV).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut csv = String::from("returned_at,letter_id,reference,agency,recipient,postcode,reason,reason_code\r\n");
    for r in &returns {
        let cells = [
            r.returned_at.clone(),
            r.letter.letter_id.to_string(),
            r.letter.reference.clone(),
            r.agency_name.clone(),
            r.letter.recipient_name().to_owned(),
            r.letter.postcode.clone(),
            reason_text(r, Lang::Thai).to_owned(),
            r.reason.map(|x| x.as_str()).unwrap_or_default().to_owned(),
        ];
        push_csv_row(&mut csv, &cells);
    }
    // The list names people: who exported it is recorded.
    let detail = serde_json::json!({"days": days, "letters": returns.len()});
    if let Err(r) = audit(&state, &me, "returns.export", &format!("{days} days"), Some(detail)).await {
        return r;
    }
    csv_file(&format!("returns-{days}-days.csv"), &csv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("นายหนึ่ง ทดสอบ"), "นายหนึ่ง ทดสอบ");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
    }
}
