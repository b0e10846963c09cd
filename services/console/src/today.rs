//! The first page a person sees: for post-office staff, what waits at their site today.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use hybridpost_core::{BatchStatus, Workplace};
use hybridpost_store::{agencies, people};

use crate::pages::{self, Lang};
use crate::{ConsoleState, SignedIn};

/// A number as Thai readers expect it: Arabic digits with thousands separated by commas.
pub(crate) fn number(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Today's date as a Thai reader writes it (Buddhist era), or in English.
pub(crate) fn today_text(lang: Lang) -> String {
    let today = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7)).date();
    match lang {
        Lang::Thai => hybridpost_thai::format_thai_date(today),
        Lang::English => format!("{} {} {}", today.day(), today.month(), today.year()),
    }
}

pub(crate) async fn today_page(State(state): State<ConsoleState>, me: SignedIn) -> Response {
    // An agency's people start from their letters.
    let Workplace::Site(site_id) = me.person.workplace else {
        return crate::see_other("/console/letters");
    };
    let week_ago = hybridpost_store::timestamp_text(time::OffsetDateTime::now_utc() - time::Duration::days(7));
    let found: hybridpost_store::Result<_> = async {
        let mut conn = state.store.read().await?;
        let sites = agencies::list_sites(&mut conn).await?;
        let Some(site) = sites.iter().find(|s| s.site_id == site_id).cloned() else {
            return Ok(None);
        };
        let today = people::site_today(&mut conn, &site, &sites, &week_ago).await?;
        Ok(Some((site, today)))
    }
    .await;
    let (site, today) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return pages::not_found(),
        Err(e) => {
            tracing::error!("cannot read the Today page: {e}");
            return pages::unavailable(me.lang);
        }
    };
    let batches: Vec<serde_json::Value> = BatchStatus::ALL
        .iter()
        .filter(|s| **s != BatchStatus::Dispatched)
        .map(|s| {
            let n = today.batches.iter().find(|(b, _)| b == s).map_or(0, |(_, n)| *n);
            serde_json::json!({"status": s.as_str(), "name": crate::batches::status_name(*s, me.lang), "count": number(n)})
        })
        .collect();
    pages::render(
        StatusCode::OK,
        "today.html",
        me.lang,
        serde_json::json!({
            "me": crate::me_context(&me),
            "csrf": me.session.csrf_token,
            "site": site.name,
            "date": today_text(me.lang),
            "waiting": number(today.waiting),
            "batches": batches,
            "review": number(today.review),
            "returned": number(today.returned),
            "path": "/console/today",
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(number(0), "0");
        assert_eq!(number(999), "999");
        assert_eq!(number(1000), "1,000");
        assert_eq!(number(100_000), "100,000");
        assert_eq!(number(-1_234_567), "-1,234,567");
    }
}
