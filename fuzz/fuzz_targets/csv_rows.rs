//! A CSV file of items or events (`polyrec import … file.csv`): any bytes become rows or a
//! refusal, never a panic; every row becomes a JSON object the API can read (an item the item
//! checks take or refuse, an event with only the fields of an event), and the line reported for
//! a row is within the file.
#![no_main]

#[path = "../../crates/polyrec/src/csv_rows.rs"]
mod csv_rows;

use libfuzzer_sys::fuzz_target;
use polyrec_core::ScenarioId;
use polyrec_core::item::ItemInput;
use serde_json::Value;

const EVENT_FIELDS: [&str; 8] =
    ["event_type", "user_id", "item_id", "scenario_id", "request_id", "timestamp", "value", "context"];

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let mut reader = csv_rows::csv_reader(data);
    let Ok(headers) = csv_rows::trimmed_headers(&mut reader) else { return };
    let headers = headers.clone();
    let mut row = csv::StringRecord::new();
    let scenario = ScenarioId::parse("feed").unwrap();
    while let Ok(true) = reader.read_record(&mut row) {
        if csv_rows::is_blank(&row) {
            continue;
        }
        let line = csv_rows::record_line(&reader, &row, None);
        assert!(line <= lines, "row at line {line} of {lines}");

        let item = csv_rows::csv_item(&headers, &row);
        assert!(item["metadata"].is_object());
        // What the CLI sends is one NDJSON line the item service parses or refuses.
        let text = serde_json::to_string(&item).unwrap();
        assert!(!text.contains('\n'));
        if let Ok(input) = polyrec_core::limits::from_json_str::<ItemInput>(&text) {
            let _ = input.into_item(&scenario, 1_768_471_350_000);
        }

        let event = csv_rows::csv_event(&headers, &row);
        let Value::Object(fields) = &event else { panic!("an event is an object: {event}") };
        assert!(fields.keys().all(|k| EVENT_FIELDS.contains(&k.as_str())), "{event}");
        for number in ["timestamp", "value"] {
            if let Some(Value::Number(n)) = fields.get(number) {
                assert!(n.as_f64().is_some_and(f64::is_finite), "{event}");
            }
        }
    }
});
