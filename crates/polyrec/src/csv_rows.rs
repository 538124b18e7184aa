//! CSV rows as the JSON the API takes (`polyrec import items|events … .csv`): pure, so the
//! `csv_rows` fuzz target (fuzz/fuzz_targets/csv_rows.rs) runs exactly this code.

use serde_json::{Map, Value, json};

/// Item metadata columns the engine reads as strings, whatever they look like ("2024", "75001").
/// (`publish_time` is typed as usual: the server takes epoch numbers and RFC 3339 strings.)
pub const STRING_COLUMNS: [&str; 2] = ["category", "location"];

/// A CSV cell as JSON: numbers and booleans typed, empty cells absent. A number with a leading
/// zero ("007") stays a string, since typing it would change it.
pub fn cell(text: &str) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.") {
        return Some(json!(text));
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(json!(n));
    }
    if let Ok(x) = text.parse::<f64>()
        && x.is_finite()
    {
        return Some(json!(x));
    }
    match text {
        "true" => Some(json!(true)),
        "false" => Some(json!(false)),
        _ => Some(json!(text)),
    }
}

/// A CSV reader that ends records at `\n` only, so a CRLF file counts lines as the file does
/// (the `\r` left at the end of a row's last cell is trimmed with the cell), and header names
/// without their `\r`.
pub fn csv_reader<R: std::io::Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new().flexible(true).terminator(csv::Terminator::Any(b'\n')).from_reader(input)
}

/// A row of nothing but white space: a blank line (`\r` of a CRLF file included).
pub fn is_blank(row: &csv::StringRecord) -> bool {
    row.iter().all(|field| field.trim().is_empty())
}

pub fn trimmed_headers<R: std::io::Read>(reader: &mut csv::Reader<R>) -> csv::Result<csv::StringRecord> {
    Ok(reader.headers()?.iter().map(str::trim).collect())
}

/// One CSV item row as the NDJSON item object.
pub fn csv_item(headers: &csv::StringRecord, row: &csv::StringRecord) -> Value {
    let mut item = Map::new();
    let mut metadata = Map::new();
    for (name, text) in headers.iter().zip(row.iter()) {
        match name {
            "item_id" => {
                item.insert("item_id".into(), json!(text.trim()));
            }
            "status" if !text.trim().is_empty() => {
                item.insert("status".into(), json!(text.trim()));
            }
            "embedding" if !text.trim().is_empty() => {
                let values: Vec<Value> = text
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(|c: char| c == ',' || c == '|' || c.is_whitespace())
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse::<f64>().map(|x| json!(x)).unwrap_or_else(|_| json!(s)))
                    .collect();
                item.insert("embedding".into(), Value::Array(values));
            }
            "tags" => {
                let tags: Vec<Value> =
                    text.split('|').map(str::trim).filter(|t| !t.is_empty()).map(|t| json!(t)).collect();
                metadata.insert("tags".into(), Value::Array(tags));
            }
            other if STRING_COLUMNS.contains(&other) => {
                if !text.trim().is_empty() {
                    metadata.insert(other.to_owned(), json!(text.trim()));
                }
            }
            other => {
                if let Some(value) = cell(text) {
                    metadata.insert(other.to_owned(), value);
                }
            }
        }
    }
    item.insert("metadata".into(), Value::Object(metadata));
    Value::Object(item)
}

/// The file line a CSV record starts on, from where the reader stands after reading it: the
/// line after the record's terminator — or the record's own last line, when it is the end of a
/// file of `unterminated_len` bytes that has no final newline. (The csv crate's own record
/// position points before any blank lines it skipped.)
pub fn record_line<R: std::io::Read>(
    reader: &csv::Reader<R>,
    row: &csv::StringRecord,
    unterminated_len: Option<u64>,
) -> u64 {
    let newlines_inside: usize = row.iter().map(|field| field.matches('\n').count()).sum();
    let at_unterminated_end = unterminated_len == Some(reader.position().byte());
    let last_line = if at_unterminated_end { reader.position().line() } else { reader.position().line() - 1 };
    last_line.saturating_sub(newlines_inside as u64)
}

/// One CSV event row as the event object.
pub fn csv_event(headers: &csv::StringRecord, row: &csv::StringRecord) -> Value {
    let mut event = Map::new();
    let mut context = Map::new();
    for (name, text) in headers.iter().zip(row.iter()) {
        match name {
            "event_type" | "user_id" | "item_id" | "scenario_id" | "request_id" => {
                if !text.trim().is_empty() {
                    event.insert(name.to_owned(), json!(text.trim()));
                }
            }
            "timestamp" | "value" => {
                if let Some(value) = cell(text) {
                    event.insert(name.to_owned(), value);
                }
            }
            other => {
                if let Some(value) = cell(text) {
                    context.insert(other.to_owned(), value);
                }
            }
        }
    }
    if !context.is_empty() {
        event.insert("context".into(), Value::Object(context));
    }
    Value::Object(event)
}
