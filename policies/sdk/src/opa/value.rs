//! OPA values as the flavour keeps them on its heap: JSON plus sets, with OPA's two text forms
//! (JSON, where a set is an array, and Rego's value syntax, where it is `{...}` or `set()`) and
//! the path edits hosts use to patch `data`.

use std::fmt::Write as _;

/// A Rego value. Objects keep their keys sorted, as OPA prints them.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<Val>),
    Obj(Vec<(String, Val)>),
    Set(Vec<Val>),
}

/// An object's entries, sorted by key.
type Entries = Vec<(String, Val)>;

/// Error codes of `opa_value_add_path` / `opa_value_remove_path`.
pub const OK: i32 = 0;
pub const ERR_INVALID_TYPE: i32 = 2;
pub const ERR_INVALID_PATH: i32 = 3;

impl From<serde_json::Value> for Val {
    fn from(v: serde_json::Value) -> Val {
        match v {
            serde_json::Value::Null => Val::Null,
            serde_json::Value::Bool(b) => Val::Bool(b),
            serde_json::Value::Number(n) => Val::Num(n),
            serde_json::Value::String(s) => Val::Str(s),
            serde_json::Value::Array(a) => Val::Arr(a.into_iter().map(Val::from).collect()),
            // Sorted by key whatever serde_json's map order is (`preserve_order` keeps input
            // order): lookups and path edits binary-search the keys.
            serde_json::Value::Object(o) => {
                let mut entries: Vec<(String, Val)> =
                    o.into_iter().map(|(k, v)| (k, Val::from(v))).collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Val::Obj(entries)
            }
        }
    }
}

impl Val {
    /// Parses JSON text; `None` when it is not JSON.
    pub fn parse_json(bytes: &[u8]) -> Option<Val> {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .map(Val::from)
    }

    /// Back to JSON (sets become arrays).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Val::Null => serde_json::Value::Null,
            Val::Bool(b) => serde_json::Value::Bool(*b),
            Val::Num(n) => serde_json::Value::Number(n.clone()),
            Val::Str(s) => serde_json::Value::String(s.clone()),
            Val::Arr(a) | Val::Set(a) => {
                serde_json::Value::Array(a.iter().map(Val::to_json).collect())
            }
            Val::Obj(o) => {
                serde_json::Value::Object(o.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
        }
    }

    /// OPA's JSON text of the value.
    pub fn dump_json(&self) -> String {
        self.to_json().to_string()
    }

    /// OPA's value text: JSON, but sets are `{a, b}` and the empty set is `set()`.
    pub fn dump_value(&self) -> String {
        let mut out = String::new();
        self.write_value(&mut out);
        out
    }

    fn write_value(&self, out: &mut String) {
        match self {
            Val::Null | Val::Bool(_) | Val::Num(_) | Val::Str(_) => {
                let _ = write!(out, "{}", self.to_json());
            }
            Val::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_value(out);
                }
                out.push(']');
            }
            Val::Obj(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}:", serde_json::Value::String(k.clone()));
                    v.write_value(out);
                }
                out.push('}');
            }
            Val::Set(items) if items.is_empty() => out.push_str("set()"),
            Val::Set(items) => {
                out.push('{');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_value(out);
                }
                out.push('}');
            }
        }
    }

    /// The value at `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Val> {
        match self {
            Val::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets `key` of an object, keeping keys sorted.
    fn set_key(entries: &mut Vec<(String, Val)>, key: &str, value: Val) {
        match entries.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
            Ok(i) => {
                if let Some(slot) = entries.get_mut(i) {
                    slot.1 = value;
                }
            }
            Err(i) => entries.insert(i, (key.to_string(), value)),
        }
    }

    /// The object that holds the last key of `path`, and that key. Walks the path's other
    /// keys from this object, creating missing objects on the way when `create` is set.
    fn parent<'a, 'p>(
        &'a mut self,
        path: &'p Val,
        create: bool,
    ) -> Result<(&'a mut Entries, &'p str), i32> {
        let keys = path_keys(path).ok_or(ERR_INVALID_PATH)?;
        let (last, init) = keys.split_last().ok_or(ERR_INVALID_PATH)?;
        let mut node = self;
        for key in init {
            let Val::Obj(entries) = node else {
                return Err(ERR_INVALID_TYPE);
            };
            let i = match entries.binary_search_by(|(k, _)| k.as_str().cmp(key)) {
                Ok(i) => i,
                Err(i) if create => {
                    entries.insert(i, (key.to_string(), Val::Obj(Vec::new())));
                    i
                }
                Err(_) => return Err(ERR_INVALID_PATH),
            };
            node = &mut entries.get_mut(i).ok_or(ERR_INVALID_PATH)?.1;
        }
        match node {
            Val::Obj(entries) => Ok((entries, last)),
            _ => Err(ERR_INVALID_TYPE),
        }
    }

    /// `opa_value_add_path`: sets `value` at `path` (an array of strings) under this object,
    /// creating the objects on the way.
    pub fn add_path(&mut self, path: &Val, value: Val) -> i32 {
        match self.parent(path, true) {
            Ok((entries, last)) => {
                Val::set_key(entries, last, value);
                OK
            }
            Err(code) => code,
        }
    }

    /// `opa_value_remove_path`: removes the value at `path`.
    pub fn remove_path(&mut self, path: &Val) -> i32 {
        let (entries, last) = match self.parent(path, false) {
            Ok(found) => found,
            Err(code) => return code,
        };
        match entries.binary_search_by(|(k, _)| k.as_str().cmp(last)) {
            Ok(i) => {
                entries.remove(i);
                OK
            }
            Err(_) => ERR_INVALID_PATH,
        }
    }
}

fn path_keys(path: &Val) -> Option<Vec<&str>> {
    match path {
        Val::Arr(items) => items
            .iter()
            .map(|v| match v {
                Val::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_dump_as_arrays_in_json_and_as_sets_in_value_form() {
        let v = Val::Set(vec![Val::Obj(vec![(
            "result".into(),
            Val::Set(vec![Val::from(json!({"msg": "a \"b\""}))]),
        )])]);
        assert_eq!(v.dump_json(), r#"[{"result":[{"msg":"a \"b\""}]}]"#);
        assert_eq!(v.dump_value(), r#"{{"result":{{"msg":"a \"b\""}}}}"#);
        let empty = Val::Set(vec![Val::Obj(vec![("result".into(), Val::Set(vec![]))])]);
        assert_eq!(empty.dump_value(), r#"{{"result":set()}}"#);
        assert_eq!(empty.dump_json(), r#"[{"result":[]}]"#);
    }

    #[test]
    fn add_and_remove_paths() {
        let mut data = Val::from(json!({}));
        let path = Val::from(json!(["inventory", "namespace", "shop"]));
        assert_eq!(data.add_path(&path, Val::from(json!({"v1": {}}))), OK);
        assert_eq!(
            data.to_json(),
            json!({"inventory": {"namespace": {"shop": {"v1": {}}}}})
        );
        assert_eq!(
            data.add_path(&Val::from(json!([])), Val::Null),
            ERR_INVALID_PATH
        );
        assert_eq!(
            data.add_path(&Val::from(json!([1])), Val::Null),
            ERR_INVALID_PATH
        );
        assert_eq!(
            data.add_path(
                &Val::from(json!(["inventory", "namespace", "shop", "v1", "x", "y"])),
                Val::Null
            ),
            OK
        );
        assert_eq!(
            data.remove_path(&Val::from(json!(["inventory", "namespace", "shop"]))),
            OK
        );
        assert_eq!(data.to_json(), json!({"inventory": {"namespace": {}}}));
        assert_eq!(
            data.remove_path(&Val::from(json!(["nope"]))),
            ERR_INVALID_PATH
        );
        let mut scalar = Val::from(json!(1));
        assert_eq!(
            scalar.add_path(&Val::from(json!(["a"])), Val::Null),
            ERR_INVALID_TYPE
        );
    }
}
