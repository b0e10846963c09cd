//! Zips of scans (APPNOTE 6.3): each entry read as a file of its own, pages numbered across
//! entries. Entry names are only labels; nothing is written to disk.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use super::{FileError, Kind, Limits, Page, PageError, Source, check_file_size, finish, over_page_limit};

/// One entry that holds (or should hold) pages.
struct Entry {
    index: usize,
    name: String,
    /// Its page count, or why it cannot be read at all.
    pages: Result<u32, String>,
}

/// A zip's entries, read one after the other.
pub(super) struct ZipPages {
    archive: ZipArchive<Cursor<Vec<u8>>>,
    entries: Vec<Entry>,
    /// The entry being read, and its next page.
    at: usize,
    current: Option<(Source, u32)>,
    /// Pages (and unreadable entries) handed out so far.
    number: u32,
    total: u32,
}

enum Unread {
    /// The entry alone cannot be read.
    Entry(String),
    /// The whole zip is refused.
    Zip(FileError),
}

impl ZipPages {
    pub(super) fn open(bytes: Vec<u8>, limits: &Limits) -> Result<ZipPages, FileError> {
        let mut archive = ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| FileError::Damaged(format!("the zip's directory cannot be read ({e})")))?;
        if archive.len() as u64 > u64::from(limits.max_zip_entries) {
            return Err(FileError::OverLimit(format!(
                "the zip has {} entries, the limit is {}; split it into smaller zips",
                archive.len(),
                limits.max_zip_entries
            )));
        }
        // What the entries claim, before inflating any of them.
        let mut claimed: u64 = 0;
        for i in 0..archive.len() {
            if let Ok(file) = archive.by_index_raw(i) {
                claimed = claimed.saturating_add(file.size());
            }
        }
        if claimed > limits.max_zip_bytes {
            return Err(zip_too_big(claimed, limits));
        }
        let mut entries = Vec::new();
        let mut used: u64 = 0;
        let mut total: u32 = 0;
        for index in 0..archive.len() {
            let Some(Ok(name)) = archive.name_for_index(index).map(|n| n.map(|n| n.into_owned())) else { continue };
            if skipped(&name) {
                continue;
            }
            let pages = match read_entry(&mut archive, index, &name, &mut used, limits) {
                Ok(bytes) => match Kind::sniff(&bytes).and_then(|kind| entry_source(kind, bytes, limits)) {
                    Ok(source) => Ok(source.page_count()),
                    Err(e) => Err(e.to_string()),
                },
                Err(Unread::Entry(reason)) => Err(reason),
                Err(Unread::Zip(e)) => return Err(e),
            };
            total = total.saturating_add(*pages.as_ref().unwrap_or(&1));
            if total > limits.max_pages {
                return Err(over_page_limit(u64::from(total), limits));
            }
            entries.push(Entry { index, name, pages });
        }
        if entries.is_empty() {
            return Err(FileError::NotAScan("the zip holds no files".into()));
        }
        Ok(ZipPages { archive, entries, at: 0, current: None, number: 0, total })
    }

    pub(super) fn page_count(&self) -> u32 {
        self.total
    }

    pub(super) fn left(&self) -> u32 {
        self.total.saturating_sub(self.number)
    }

    pub(super) fn next(&mut self, limits: &Limits) -> Option<Result<Page, PageError>> {
        loop {
            if let Some((source, next)) = &mut self.current {
                if *next < source.page_count() {
                    let index = *next;
                    *next += 1;
                    self.number += 1;
                    let name = &self.entries[self.at].name;
                    return Some(finish(source.decode(index, limits), self.number, Some(name)));
                }
                self.current = None;
                self.at += 1;
            }
            let entry = self.entries.get(self.at)?;
            let failed = match &entry.pages {
                Err(reason) => Some(reason.clone()),
                Ok(_) => {
                    let mut used = 0;
                    match read_entry(&mut self.archive, entry.index, &entry.name, &mut used, limits) {
                        Ok(bytes) => match Kind::sniff(&bytes).and_then(|kind| entry_source(kind, bytes, limits)) {
                            Ok(source) => {
                                self.current = Some((source, 0));
                                None
                            }
                            Err(e) => Some(e.to_string()),
                        },
                        Err(Unread::Entry(reason)) => Some(reason),
                        Err(Unread::Zip(e)) => Some(e.to_string()),
                    }
                }
            };
            if let Some(reason) = failed {
                self.number += 1;
                let entry = Some(entry.name.clone());
                self.at += 1;
                return Some(Err(PageError { number: self.number, entry, reason }));
            }
        }
    }
}

/// Folders, macOS resource forks and hidden files are not scans.
fn skipped(name: &str) -> bool {
    let last = name.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    name.ends_with('/') || name.starts_with("__MACOSX/") || last.starts_with('.')
}

fn entry_source(kind: Kind, bytes: Vec<u8>, limits: &Limits) -> Result<Source, FileError> {
    if kind == Kind::Zip {
        return Err(FileError::NotAScan("a zip inside a zip is not read; put all scans in one zip".into()));
    }
    Source::open(kind, bytes, limits)
}

fn zip_too_big(bytes: u64, limits: &Limits) -> FileError {
    FileError::OverLimit(format!(
        "the zip expands to {} MiB or more, the limit is {} MiB; split it into smaller zips",
        bytes >> 20,
        limits.max_zip_bytes >> 20
    ))
}

/// Inflates one entry, stopping one byte past what the limits allow: an entry that expands
/// beyond them refuses the whole zip.
fn read_entry(
    archive: &mut ZipArchive<Cursor<Vec<u8>>>,
    index: usize,
    name: &str,
    used: &mut u64,
    limits: &Limits,
) -> Result<Vec<u8>, Unread> {
    let mut file = archive.by_index(index).map_err(|e| Unread::Entry(format!("the zip entry cannot be read ({e})")))?;
    let room = limits.max_zip_bytes.saturating_sub(*used);
    let limit = room.min(limits.max_file_bytes);
    if file.size() > limit {
        return Err(Unread::Zip(if file.size() > room {
            zip_too_big(used.saturating_add(file.size()), limits)
        } else {
            FileError::OverLimit(format!(
                "the zip entry {name} is {} bytes, the limit for one file is {}",
                file.size(),
                limits.max_file_bytes
            ))
        }));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(file.size()).unwrap_or(0).min(64 << 20));
    let read = (&mut file).take(limit.saturating_add(1)).read_to_end(&mut bytes);
    if bytes.len() as u64 > limit {
        return Err(Unread::Zip(FileError::OverLimit(format!(
            "the zip entry {name} expands past {} MiB, more than it claims; the zip is refused",
            limit >> 20
        ))));
    }
    read.map_err(|e| Unread::Entry(format!("the zip entry is damaged ({e})")))?;
    *used += bytes.len() as u64;
    check_file_size(bytes.len(), limits).map_err(|e| Unread::Entry(e.to_string()))?;
    Ok(bytes)
}
