//! What a supplement changed: a field-level diff of two request documents (issue 16), pure.
//!
//! Each change names its field by JSON pointer (RFC 6901). Objects are compared key by key;
//! targets (an array of objects each with a `value`) are matched by their value, so a target
//! dropped or added is one change and a reordering is none; other arrays of objects are
//! compared place by place, and arrays of plain values (data categories) as a whole. Added and
//! changed fields are named where they are in the new document, removed ones where they were in
//! the old.

use serde::Serialize;
use serde_json::Value;

/// One field the new document adds, removes or changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// JSON pointer of the field, e.g. `/investigation/reference` or `/targets/1`.
    pub path: String,
    /// `added`, `removed` or `changed`.
    pub change: ChangeKind,
    /// The value before; absent for an added field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The value after; absent for a removed field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// How a field changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// The fields of `new` that differ from `old`: removed and changed fields by key, then added
/// ones by key, at each level.
pub fn diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk(String::new(), old, new, &mut out);
    out
}

fn walk(path: String, old: &Value, new: &Value, out: &mut Vec<FieldChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            // Sorted, whichever order serde_json keeps (its `preserve_order` feature).
            let mut keys: Vec<&String> = a.keys().collect();
            keys.sort_unstable();
            for k in keys {
                let p = format!("{path}/{}", escape(k));
                match b.get(k) {
                    Some(vb) => walk(p, &a[k], vb, out),
                    None => out.push(removed(p, &a[k])),
                }
            }
            let mut keys: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
            keys.sort_unstable();
            for k in keys {
                out.push(added(format!("{path}/{}", escape(k)), &b[k]));
            }
        }
        (Value::Array(a), Value::Array(b)) if keyed(a) && keyed(b) => {
            for (i, va) in a.iter().enumerate() {
                if !b.iter().any(|vb| va["value"] == vb["value"]) {
                    out.push(removed(format!("{path}/{i}"), va));
                }
            }
            for (j, vb) in b.iter().enumerate() {
                let p = format!("{path}/{j}");
                match a.iter().find(|va| va["value"] == vb["value"]) {
                    Some(va) => walk(p, va, vb, out),
                    None => out.push(added(p, vb)),
                }
            }
        }
        (Value::Array(a), Value::Array(b))
            if a.iter().chain(b).all(|v| v.is_object() || v.is_array()) =>
        {
            for (i, va) in a.iter().enumerate() {
                match b.get(i) {
                    Some(vb) => walk(format!("{path}/{i}"), va, vb, out),
                    None => out.push(removed(format!("{path}/{i}"), va)),
                }
            }
            for (j, vb) in b.iter().enumerate().skip(a.len()) {
                out.push(added(format!("{path}/{j}"), vb));
            }
        }
        _ => out.push(FieldChange {
            path,
            change: ChangeKind::Changed,
            old: Some(old.clone()),
            new: Some(new.clone()),
        }),
    }
}

/// Objects each identified by a distinct `value` (targets): matched by it, not by place.
fn keyed(items: &[Value]) -> bool {
    let values: Vec<&Value> = items.iter().filter_map(|v| v.get("value")).collect();
    values.len() == items.len()
        && items.iter().all(Value::is_object)
        && values
            .iter()
            .enumerate()
            .all(|(i, v)| !values[..i].contains(v))
}

fn added(path: String, v: &Value) -> FieldChange {
    FieldChange {
        path,
        change: ChangeKind::Added,
        old: None,
        new: Some(v.clone()),
    }
}

fn removed(path: String, v: &Value) -> FieldChange {
    FieldChange {
        path,
        change: ChangeKind::Removed,
        old: Some(v.clone()),
        new: None,
    }
}

/// RFC 6901: `~` and `/` in a key.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn names_each_changed_field_by_pointer() {
        let old = json!({"investigation": {"reference": "A-1", "summary": "x"},
                         "data_categories": ["subscriber"], "purpose": "p"});
        let new = json!({"investigation": {"reference": "A-2", "summary": "x"},
                         "data_categories": ["subscriber", "traffic"], "necessity": "n"});
        let changes = diff(&old, &new);
        let paths: Vec<(&str, ChangeKind)> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.change))
            .collect();
        assert_eq!(
            paths,
            [
                ("/data_categories", ChangeKind::Changed),
                ("/investigation/reference", ChangeKind::Changed),
                ("/purpose", ChangeKind::Removed),
                ("/necessity", ChangeKind::Added),
            ]
        );
        assert_eq!(changes[1].old, Some(json!("A-1")));
        assert_eq!(changes[1].new, Some(json!("A-2")));
    }

    #[test]
    fn targets_are_matched_by_value_not_place() {
        let old = json!({"targets": [
            {"kind": "email", "value": "a@x.example"},
            {"kind": "phone", "value": "+1"},
        ]});
        let new = json!({"targets": [
            {"kind": "account", "value": "+1"},
            {"kind": "email", "value": "c@x.example"},
        ]});
        let changes = diff(&old, &new);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert_eq!(changes[0].path, "/targets/0");
        assert_eq!(changes[0].change, ChangeKind::Removed);
        assert_eq!(changes[0].old.as_ref().unwrap()["value"], "a@x.example");
        assert_eq!(changes[1].path, "/targets/0/kind");
        assert_eq!(changes[1].change, ChangeKind::Changed);
        assert_eq!(changes[2].path, "/targets/1");
        assert_eq!(changes[2].change, ChangeKind::Added);
        // A reordering is no change.
        let swapped = json!({"targets": [old["targets"][1], old["targets"][0]]});
        assert!(diff(&old, &swapped).is_empty());
    }

    #[test]
    fn keys_are_escaped() {
        let changes = diff(&json!({"a/b~": 1}), &json!({"a/b~": 2}));
        assert_eq!(changes[0].path, "/a~1b~0");
    }

    /// Applies `changes` (those of an index-wise diff: additions and removals only at the end
    /// of arrays) to `old`.
    fn apply(old: &Value, changes: &[FieldChange]) -> Value {
        let mut doc = old.clone();
        // Removals last and from the end, so earlier indices stay put.
        for c in changes.iter().filter(|c| c.change != ChangeKind::Removed) {
            set(&mut doc, &c.path, c.new.clone().unwrap());
        }
        for c in changes
            .iter()
            .rev()
            .filter(|c| c.change == ChangeKind::Removed)
        {
            let (parent, key) = c.path.rsplit_once('/').unwrap();
            match doc.pointer_mut(parent).unwrap() {
                Value::Object(m) => {
                    m.remove(&unescape(key));
                }
                Value::Array(a) => {
                    a.remove(key.parse::<usize>().unwrap());
                }
                _ => unreachable!(),
            }
        }
        doc
    }

    fn set(doc: &mut Value, path: &str, v: Value) {
        if path.is_empty() {
            *doc = v;
            return;
        }
        let (parent, key) = path.rsplit_once('/').unwrap();
        match doc.pointer_mut(parent).unwrap() {
            Value::Object(m) => {
                m.insert(unescape(key), v);
            }
            Value::Array(a) => {
                let i: usize = key.parse().unwrap();
                if i < a.len() {
                    a[i] = v;
                } else {
                    a.push(v);
                }
            }
            _ => unreachable!(),
        }
    }

    fn unescape(key: &str) -> String {
        key.replace("~1", "/").replace("~0", "~")
    }

    /// JSON without a `value` key (so every array is compared place by place).
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (0i64..4).prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-d/~]{1,2}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn target() -> impl Strategy<Value = Value> {
        (proptest::sample::select(vec!["email", "phone"]), 0u8..6)
            .prop_map(|(kind, n)| json!({"kind": kind, "value": format!("t{n}")}))
    }

    fn targets() -> impl Strategy<Value = Vec<Value>> {
        proptest::collection::vec(target(), 0..5).prop_map(|mut v| {
            let mut seen = Vec::new();
            v.retain(|t| {
                let fresh = !seen.contains(&t["value"]);
                seen.push(t["value"].clone());
                fresh
            });
            v
        })
    }

    proptest! {
        #[test]
        fn a_document_does_not_differ_from_itself(doc in json_value()) {
            prop_assert!(diff(&doc, &doc).is_empty());
        }

        #[test]
        fn the_changes_lead_from_old_to_new(old in json_value(), new in json_value()) {
            prop_assert_eq!(apply(&old, &diff(&old, &new)), new);
        }

        #[test]
        fn targets_dropped_and_added_are_named_once(a in targets(), b in targets()) {
            let changes = diff(&json!({"targets": a.clone()}), &json!({"targets": b.clone()}));
            let value = |v: &Option<Value>| v.as_ref().map(|t| t["value"].clone());
            let removed: Vec<_> = changes.iter().filter(|c| c.change == ChangeKind::Removed).map(|c| value(&c.old)).collect();
            let added: Vec<_> = changes.iter().filter(|c| c.change == ChangeKind::Added).map(|c| value(&c.new)).collect();
            let gone: Vec<_> = a.iter().filter(|t| !b.iter().any(|u| u["value"] == t["value"])).map(|t| Some(t["value"].clone())).collect();
            let new: Vec<_> = b.iter().filter(|t| !a.iter().any(|u| u["value"] == t["value"])).map(|t| Some(t["value"].clone())).collect();
            prop_assert_eq!(removed, gone);
            prop_assert_eq!(added, new);
            // A kept target changes only in its other fields.
            for c in changes.iter().filter(|c| c.change == ChangeKind::Changed) {
                prop_assert!(c.path.ends_with("/kind"), "{}", c.path);
            }
        }
    }
}
