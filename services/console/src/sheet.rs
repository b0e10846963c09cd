//! The table of a mail-merge file: a spreadsheet (XLSX, XLS, ODS, read with `calamine`) or a
//! CSV file (UTF-8, or Windows-874 as Thai Excel saves it). The first row names the columns;
//! each following row that is not blank is a letter, numbered as the spreadsheet numbers it
//! (the header is row 1), so that a problem's row is the row the clerk sees.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

/// Largest file read.
pub(crate) const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;
/// Most letters in one file (the batch limit).
pub(crate) const MAX_ROWS: usize = hybridpost_gateway::MAX_BATCH_ROWS;
/// Most columns.
pub(crate) const MAX_COLUMNS: usize = 100;
/// Longest cell, in characters.
pub(crate) const MAX_CELL_CHARS: usize = 4_000;
/// Largest spreadsheet once unpacked: a file of 10 MB packs to many times its size, and the
/// reader holds its sheet in memory.
const MAX_UNPACKED_BYTES: u64 = 200 * 1024 * 1024;

/// A table read from a file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sheet {
    /// Column names, from the first row.
    pub columns: Vec<String>,
    /// The rows that are not blank.
    pub rows: Vec<SheetRow>,
}

/// One row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SheetRow {
    /// The spreadsheet's row number (the header is 1).
    pub number: i64,
    /// Its cells, as text, one per column.
    pub cells: Vec<String>,
}

/// Why a file cannot be read, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SheetError {
    pub th: String,
    pub en: String,
}

impl SheetError {
    /// The message in `lang`.
    pub(crate) fn pick(self, lang: crate::pages::Lang) -> String {
        match lang {
            crate::pages::Lang::Thai => self.th,
            crate::pages::Lang::English => self.en,
        }
    }
}

fn error(th: impl Into<String>, en: impl Into<String>) -> SheetError {
    SheetError { th: th.into(), en: en.into() }
}

/// Reads `bytes`, named `file_name`.
pub(crate) fn read_sheet(file_name: &str, bytes: &[u8]) -> Result<Sheet, SheetError> {
    if bytes.is_empty() {
        return Err(error("ไฟล์ว่างเปล่า", "The file is empty."));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(error(
            format!("ไฟล์ใหญ่เกิน {} MB", MAX_FILE_BYTES / (1024 * 1024)),
            format!("The file is larger than {} MB.", MAX_FILE_BYTES / (1024 * 1024)),
        ));
    }
    let lower = file_name.to_lowercase();
    let zipped = bytes.starts_with(b"PK\x03\x04");
    let old_excel = bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    let grid = if zipped || old_excel {
        if zipped {
            check_unpacked_size(bytes)?;
        }
        spreadsheet_grid(bytes)?
    } else if lower.ends_with(".xlsx") || lower.ends_with(".xls") || lower.ends_with(".ods") {
        return Err(error("ไฟล์นี้ไม่ใช่ไฟล์ Excel ที่อ่านได้", "This is not a spreadsheet file that can be read."));
    } else {
        csv_grid(bytes)?
    };
    to_sheet(grid)
}

/// Refuses a zip whose entries unpack to more than the reader may hold.
fn check_unpacked_size(bytes: &[u8]) -> Result<(), SheetError> {
    let unreadable = || error("อ่านไฟล์ Excel นี้ไม่ได้ (ไฟล์เสีย)", "This spreadsheet cannot be read (the file is damaged).");
    // The central directory lists each entry's unpacked size; calamine reads entries through
    // the same directory. Sizes are summed without trusting any single one to be small.
    let mut total: u64 = 0;
    let mut archive = zip_entries(bytes).ok_or_else(unreadable)?;
    for size in archive.by_ref() {
        total = total.saturating_add(size);
        if total > MAX_UNPACKED_BYTES {
            return Err(error(
                "ไฟล์ Excel นี้เมื่อคลายออกมีขนาดใหญ่เกินกว่าที่ระบบรับได้",
                "This spreadsheet unpacks to more than the console accepts.",
            ));
        }
    }
    Ok(())
}

/// Unpacked sizes of a zip file's entries, from its central directory.
fn zip_entries(bytes: &[u8]) -> Option<impl Iterator<Item = u64> + '_> {
    // End of central directory: signature, then the directory's entry count, size and offset.
    const EOCD: [u8; 4] = [0x50, 0x4B, 0x05, 0x06];
    let search_from = bytes.len().saturating_sub(22 + 65_535);
    let at = (search_from..=bytes.len().checked_sub(22)?).rev().find(|&i| bytes[i..i + 4] == EOCD)?;
    let entries = u16::from_le_bytes([bytes[at + 10], bytes[at + 11]]) as usize;
    let offset = u32::from_le_bytes(bytes[at + 16..at + 20].try_into().ok()?) as usize;
    let mut pos = offset;
    let mut left = entries;
    Some(std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        left -= 1;
        let header = bytes.get(pos..pos + 46)?;
        if header[..4] != [0x50, 0x4B, 0x01, 0x02] {
            return None;
        }
        let unpacked = u32::from_le_bytes(header[24..28].try_into().ok()?);
        let name = u16::from_le_bytes([header[28], header[29]]) as usize;
        let extra = u16::from_le_bytes([header[30], header[31]]) as usize;
        let comment = u16::from_le_bytes([header[32], header[33]]) as usize;
        pos += 46 + name + extra + comment;
        // A zip64 entry says 0xFFFFFFFF here: count it as too big rather than read its extra field.
        Some(if unpacked == u32::MAX { MAX_UNPACKED_BYTES + 1 } else { u64::from(unpacked) })
    }))
}

/// Rows of cells (row number, cells) of a spreadsheet's first sheet.
fn spreadsheet_grid(bytes: &[u8]) -> Result<Vec<(i64, Vec<String>)>, SheetError> {
    use calamine::Reader;
    let unreadable = |e: &dyn std::fmt::Display| {
        error(format!("อ่านไฟล์ Excel นี้ไม่ได้: {e}"), format!("This spreadsheet cannot be read: {e}"))
    };
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    let Some(Ok(range)) = book.worksheet_range_at(0) else {
        return Err(error("ไม่พบแผ่นงานในไฟล์", "The file has no sheet."));
    };
    let first_row = i64::from(range.start().map_or(0, |(row, _)| row));
    let mut grid = Vec::new();
    for (i, row) in range.rows().enumerate() {
        if grid.len() > MAX_ROWS + 1 {
            break;
        }
        grid.push((first_row + i as i64 + 1, row.iter().map(cell_text).collect()));
    }
    Ok(grid)
}

/// A spreadsheet cell as the clerk sees it: whole numbers without `.0` (a postcode, a citizen
/// id), dates as `YYYY-MM-DD`.
fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) if d.is_datetime() => {
            let (y, m, day, h, min, sec, _) = d.to_ymd_hms_milli();
            if (h, min, sec) == (0, 0, 0) {
                format!("{y:04}-{m:02}-{day:02}")
            } else {
                format!("{y:04}-{m:02}-{day:02} {h:02}:{min:02}")
            }
        }
        Data::DateTime(d) => d.as_f64().to_string(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Rows of a CSV file: UTF-8 (with or without a byte-order mark) or, when it is not UTF-8,
/// Windows-874 (Thai Excel's "CSV"). The separator is a comma, or a semicolon or tab when the
/// first line has those and no comma.
fn csv_grid(bytes: &[u8]) -> Result<Vec<(i64, Vec<String>)>, SheetError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => {
            let (text, _, bad) = encoding_rs::WINDOWS_874.decode(bytes);
            if bad {
                return Err(error(
                    "อ่านตัวอักษรในไฟล์ไม่ได้: บันทึกไฟล์เป็น CSV UTF-8 หรือ Excel แล้วลองใหม่",
                    "The file's characters cannot be read: save it as CSV UTF-8 or as an Excel file and try again.",
                ));
            }
            text
        }
    };
    if text.contains('\0') {
        return Err(error("ไฟล์นี้ไม่ใช่ไฟล์ CSV หรือ Excel", "This is not a CSV or spreadsheet file."));
    }
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if first_line.contains(',') {
        b','
    } else if first_line.contains(';') {
        b';'
    } else if first_line.contains('\t') {
        b'\t'
    } else {
        b','
    };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut grid = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            error(
                format!("อ่านไฟล์ CSV ไม่ได้ที่แถว {}: {e}", i + 1),
                format!("The CSV file cannot be read at row {}: {e}", i + 1),
            )
        })?;
        if grid.len() > MAX_ROWS + 1 {
            break;
        }
        let number = record.position().map_or(i as i64 + 1, |p| p.line() as i64);
        grid.push((number, record.iter().map(str::to_owned).collect()));
    }
    Ok(grid)
}

/// The header and the rows that are not blank, within the limits.
fn to_sheet(grid: Vec<(i64, Vec<String>)>) -> Result<Sheet, SheetError> {
    let mut rows = grid.into_iter().filter(|(_, cells)| cells.iter().any(|c| !c.trim().is_empty()));
    let Some((_, header)) = rows.next() else {
        return Err(error("ไม่พบข้อมูลในไฟล์", "The file holds no rows."));
    };
    let mut columns: Vec<String> = header.iter().map(|c| c.trim().to_owned()).collect();
    while columns.last().is_some_and(String::is_empty) {
        columns.pop();
    }
    if columns.len() > MAX_COLUMNS {
        return Err(error(
            format!("ไฟล์มี {} คอลัมน์ เกินกว่า {MAX_COLUMNS} คอลัมน์", columns.len()),
            format!("The file has {} columns, more than {MAX_COLUMNS}.", columns.len()),
        ));
    }
    for (i, c) in columns.iter_mut().enumerate() {
        if c.is_empty() {
            *c = format!("({})", column_letter(i));
        }
    }
    let mut out = Vec::new();
    for (number, mut cells) in rows {
        if out.len() == MAX_ROWS {
            return Err(error(
                format!("ไฟล์มีเกิน {MAX_ROWS} แถว: แบ่งเป็นหลายไฟล์แล้วส่งทีละไฟล์"),
                format!("The file has more than {MAX_ROWS} rows: split it and send each part."),
            ));
        }
        cells.resize(columns.len(), String::new());
        for cell in &mut cells {
            if cell.chars().count() > MAX_CELL_CHARS {
                return Err(error(
                    format!("แถว {number} มีช่องที่ยาวเกิน {MAX_CELL_CHARS} ตัวอักษร"),
                    format!("Row {number} has a cell longer than {MAX_CELL_CHARS} characters."),
                ));
            }
            *cell = cell.trim().to_owned();
        }
        out.push(SheetRow { number, cells });
    }
    if out.is_empty() {
        return Err(error("ไฟล์มีแต่หัวตาราง ไม่มีแถวข้อมูล", "The file has a header and no rows."));
    }
    Ok(Sheet { columns, rows: out })
}

/// A spreadsheet's name of column `i` (0 → A, 26 → AA).
pub(crate) fn column_letter(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_in_utf8_with_a_byte_order_mark_keeps_its_row_numbers_and_skips_blank_rows() {
        let csv = "\u{feff}reference,name,postcode\nA-1,นายสมชาย ใจดี,10400\n,,\nA-2,\"นาง สมใจ, ใจดี\",10400\n";
        let sheet = read_sheet("letters.csv", csv.as_bytes()).unwrap();
        assert_eq!(sheet.columns, ["reference", "name", "postcode"]);
        assert_eq!(sheet.rows.len(), 2);
        assert_eq!(sheet.rows[0].number, 2);
        assert_eq!(sheet.rows[1].number, 4, "the blank row 3 still counts");
        assert_eq!(sheet.rows[1].cells[1], "นาง สมใจ, ใจดี");
    }

    #[test]
    fn a_csv_saved_by_thai_excel_in_windows_874_reads_as_thai() {
        let (bytes, _, _) = encoding_rs::WINDOWS_874.encode("ชื่อ;จังหวัด\nนายสมชาย;กรุงเทพมหานคร\n");
        assert!(std::str::from_utf8(&bytes).is_err(), "the test file is not UTF-8");
        let sheet = read_sheet("letters.csv", &bytes).unwrap();
        assert_eq!(sheet.columns, ["ชื่อ", "จังหวัด"]);
        assert_eq!(sheet.rows[0].cells, ["นายสมชาย", "กรุงเทพมหานคร"]);
    }

    #[test]
    fn files_that_cannot_be_read_say_why_in_both_languages() {
        let header_only = read_sheet("a.csv", b"name,postcode\n").unwrap_err();
        assert!(header_only.en.contains("no rows"), "{header_only:?}");
        let fake = read_sheet("a.xlsx", b"name,postcode\nx,1\n").unwrap_err();
        assert!(fake.en.contains("not a spreadsheet"), "{fake:?}");
        let broken_zip = read_sheet("a.xlsx", b"PK\x03\x04 not really a zip").unwrap_err();
        assert!(broken_zip.en.contains("cannot be read"), "{broken_zip:?}");
        assert!(read_sheet("a.csv", b"").is_err());
        let too_many: String =
            std::iter::once("name\n".to_owned()).chain((0..=MAX_ROWS).map(|i| format!("row {i}\n"))).collect();
        let err = read_sheet("a.csv", too_many.as_bytes()).unwrap_err();
        assert!(err.en.contains("more than 10000 rows"), "{err:?}");
    }

    #[test]
    fn column_letters_run_like_a_spreadsheet() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }
}
