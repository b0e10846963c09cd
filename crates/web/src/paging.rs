//! Lists: every list of every API is a [`Page`] (`{"items": [...], "next_cursor": ...}`), asked
//! for with the same `cursor` and `limit` parameters and defaults, read strictly, with one
//! wording of their errors.

use axum::extract::Query;
use axum::http::Uri;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::problem::ApiError;

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest `limit`.
pub const MAX_LIMIT: i64 = 500;

/// A page of a list.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page (the event feed, which has
    /// no last page, always gives one: poll with it).
    pub next_cursor: Option<String>,
}

/// The query of a list without filters: `?cursor=…&limit=…`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `next_cursor` from the previous page; from the start when not given.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (100 when not given).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// What a page asks for: where to start and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest<C> {
    /// Items after this one; `None` from the start.
    pub after: Option<C>,
    /// Items per page.
    pub limit: i64,
}

impl<C: std::str::FromStr> PageRequest<C> {
    /// Reads `cursor` (a cursor handed out by this API) and `limit` (1 to [`MAX_LIMIT`],
    /// [`DEFAULT_LIMIT`] when absent); a 400 naming what is wrong.
    pub fn read(cursor: Option<&str>, limit: Option<i64>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::BadRequest(format!("limit must be from 1 to {MAX_LIMIT}")));
        }
        if cursor == Some("") {
            return Err(ApiError::BadRequest("cursor is empty: leave it out for the first page".into()));
        }
        let after = cursor
            .map(|c| {
                c.parse::<C>().map_err(|_| {
                    ApiError::BadRequest(format!("{} is not a cursor from this API", hybridpost_core::quoted(c)))
                })
            })
            .transpose()?;
        Ok(PageRequest { after, limit })
    }

    /// The page of `rows` (at most `limit`, fetched after `after`): each shown as `show`, and
    /// the cursor of the last when the page is full.
    pub fn page<R, T, D: ToString>(&self, rows: &[R], cursor_of: impl Fn(&R) -> D, show: impl Fn(&R) -> T) -> Page<T> {
        let full = i64::try_from(rows.len()).ok() == Some(self.limit);
        Page {
            items: rows.iter().map(show).collect(),
            next_cursor: full.then(|| rows.last().map(|r| cursor_of(r).to_string())).flatten(),
        }
    }
}

impl ListQuery {
    /// The page asked for.
    pub fn request<C: std::str::FromStr>(&self) -> Result<PageRequest<C>, ApiError> {
        PageRequest::read(self.cursor.as_deref(), self.limit)
    }
}

/// The query of `uri` as `T` (unknown parameters refused when `T` says so), or a 400 naming
/// what is wrong.
pub fn query<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    Query::<T>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|rejection| ApiError::BadRequest(format!("bad query: {}", rejection.body_text())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors_are_read_with_one_default_and_one_wording() {
        let r = PageRequest::<i64>::read(None, None).unwrap();
        assert_eq!(r, PageRequest { after: None, limit: DEFAULT_LIMIT });
        assert_eq!(PageRequest::<i64>::read(Some("7"), Some(500)).unwrap().after, Some(7));
        assert!(PageRequest::<i64>::read(Some(""), Some(1)).unwrap_err().to_string().contains("leave it out"));
        for bad in [0, -1, 501] {
            assert!(PageRequest::<i64>::read(None, Some(bad)).unwrap_err().to_string().contains("1 to 500"));
        }
        assert!(PageRequest::<i64>::read(Some("x"), None).unwrap_err().to_string().contains("not a cursor"));
    }

    #[test]
    fn a_full_page_names_its_last_item_and_a_short_one_ends_the_list() {
        let r = PageRequest::<i64> { after: None, limit: 2 };
        assert_eq!(r.page(&[1, 2], |n| *n, |n| n * 10).next_cursor.as_deref(), Some("2"));
        let last = r.page(&[3], |n| *n, |n| n * 10);
        assert_eq!((last.items, last.next_cursor), (vec![30], None));
    }
}
