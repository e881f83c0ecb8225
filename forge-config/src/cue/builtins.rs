//! Standard-library functions used by configuration files.

use std::rc::Rc;

use super::decimal::Decimal;
use super::diag::DiagnosticKind;
use super::eval::{Ev, R, Val};
use super::source::Span;

const FUNCS: &[&str] = &[
    "strings.Contains",
    "strings.ContainsAny",
    "strings.HasPrefix",
    "strings.HasSuffix",
    "strings.Join",
    "strings.Split",
    "strings.SplitN",
    "strings.ToUpper",
    "strings.ToLower",
    "strings.ToTitle",
    "strings.ToCamel",
    "strings.TrimSpace",
    "strings.Trim",
    "strings.TrimLeft",
    "strings.TrimRight",
    "strings.TrimPrefix",
    "strings.TrimSuffix",
    "strings.Replace",
    "strings.Repeat",
    "strings.Index",
    "strings.LastIndex",
    "strings.Count",
    "strings.Fields",
    "strings.MinRunes",
    "strings.MaxRunes",
    "strings.Runes",
    "list.Concat",
    "list.Contains",
    "list.FlattenN",
    "list.Range",
    "list.Sum",
    "list.Product",
    "list.Max",
    "list.Min",
    "list.Avg",
    "list.Take",
    "list.Drop",
    "list.Slice",
    "list.SortStrings",
    "list.UniqueItems",
    "list.MinItems",
    "list.MaxItems",
    "list.Repeat",
    "math.Floor",
    "math.Ceil",
    "math.Round",
    "math.Trunc",
    "math.Abs",
    "math.Sqrt",
    "math.Pow",
    "math.Pow10",
    "math.Log",
    "math.Exp",
    "regexp.Match",
    "regexp.Find",
    "regexp.FindAll",
    "regexp.FindSubmatch",
    "regexp.ReplaceAllLiteral",
    "regexp.Valid",
    "strconv.Atoi",
    "strconv.ParseInt",
    "strconv.FormatInt",
    "strconv.ParseBool",
    "strconv.FormatBool",
    "strconv.ParseFloat",
    "strconv.Quote",
    "strconv.Unquote",
    "json.Marshal",
    "json.Unmarshal",
    "json.Valid",
    "yaml.Marshal",
    "yaml.Unmarshal",
    "base64.Encode",
    "base64.Decode",
];

/// String validators usable partially applied (`name: strings.MinRunes(3)`), with their arity.
const VALIDATORS: &[(&str, usize)] = &[
    ("strings.MinRunes", 2),
    ("strings.MaxRunes", 2),
    ("strings.HasPrefix", 2),
    ("strings.HasSuffix", 2),
    ("strings.Contains", 2),
];

/// Applies a partially applied string validator to a value.
pub(crate) fn validate(name: &str, v: &Val, args: &[Val]) -> bool {
    let Val::Str(s) = v else { return false };
    match (name, args) {
        ("strings.MinRunes", [Val::Int(n)]) => s.chars().count() as i128 >= n.get(),
        ("strings.MaxRunes", [Val::Int(n)]) => s.chars().count() as i128 <= n.get(),
        ("strings.HasPrefix", [Val::Str(p)]) => s.starts_with(&**p),
        ("strings.HasSuffix", [Val::Str(p)]) => s.ends_with(&**p),
        ("strings.Contains", [Val::Str(p)]) => s.contains(&**p),
        _ => false,
    }
}

/// A member of an imported standard package.
pub(crate) fn member(pkg: &str, sel: &str) -> Option<Val> {
    let short = pkg.rsplit('/').next().unwrap_or(pkg);
    let full = format!("{short}.{sel}");
    if FUNCS.contains(&full.as_str()) {
        return Some(Val::Builtin(Rc::from(full)));
    }
    let dec = |s: &str| Decimal::parse(s).map(Val::float);
    match full.as_str() {
        "math.Pi" => dec("3.14159265358979323846264338327950288419716939937510582097494459"),
        "math.E" => dec("2.71828182845904523536028747135266249775724709369995957496696763"),
        "math.MaxInt64" => Some(Val::int(i64::MAX as i128)),
        "math.MinInt64" => Some(Val::int(i64::MIN as i128)),
        "math.MaxInt32" => Some(Val::int(i32::MAX as i128)),
        "math.MaxUint32" => Some(Val::int(u32::MAX as i128)),
        _ => None,
    }
}

fn err(msg: impl Into<String>, sp: Span) -> Val {
    Val::err(DiagnosticKind::Eval, msg, Some(sp))
}

fn incomplete(name: &str, sp: Span) -> Val {
    Val::err(DiagnosticKind::Incomplete, format!("{name}: non-concrete argument"), Some(sp))
}

fn num(v: &Val) -> Option<Decimal> {
    match v {
        Val::Int(i) => Some(Decimal::from_int(i.get())),
        Val::Float(d) => Some(**d),
        _ => None,
    }
}

fn float_val(f: f64, sp: Span) -> Val {
    match Decimal::from_f64(f) {
        Some(d) => Val::float(d),
        None => err("result is not a finite number", sp),
    }
}

/// Calls a builtin with evaluated (default-resolved) arguments.
pub(crate) fn call(ev: &mut Ev<'_>, name: &str, args: Vec<Val>, sp: Span) -> R<Val> {
    for a in &args {
        if let Val::Err(_) = a {
            return Ok(a.clone());
        }
    }
    let arity = |n: usize| -> Option<Val> {
        if args.len() != n {
            Some(err(format!("{name}: expected {n} arguments, got {}", args.len()), sp))
        } else {
            None
        }
    };
    if let Some(n) = VALIDATORS.iter().find(|(v, _)| *v == name).map(|(_, n)| *n)
        && args.len() + 1 == n
        && args.iter().all(Val::is_concrete_scalar)
    {
        return Ok(Val::Basic(super::eval::k::STRING, Rc::new(vec![super::eval::Bound::validator(name, args)])));
    }
    let concrete = args.iter().all(|a| !matches!(a, Val::Top | Val::Basic(..) | Val::Disj(_)));
    if !concrete && name != "len" {
        return Ok(incomplete(name, sp));
    }
    macro_rules! check {
        ($n:expr) => {
            if let Some(e) = arity($n) {
                return Ok(e);
            }
        };
    }
    macro_rules! s {
        ($i:expr) => {
            match &args[$i] {
                Val::Str(s) => s.clone(),
                _ => return Ok(err(format!("{name}: argument {} must be a string", $i + 1), sp)),
            }
        };
    }
    // a string or bytes argument, as its bytes (the encoding packages take either)
    macro_rules! data {
        ($i:expr) => {
            match &args[$i] {
                Val::Str(s) => s.as_bytes().to_vec(),
                Val::Bytes(b) => b.to_vec(),
                _ => return Ok(err(format!("{name}: argument {} must be bytes or a string", $i + 1), sp)),
            }
        };
    }
    macro_rules! int {
        ($i:expr) => {
            match &args[$i] {
                Val::Int(i) => i.get(),
                _ => return Ok(err(format!("{name}: argument {} must be an int", $i + 1), sp)),
            }
        };
    }
    macro_rules! number {
        ($i:expr) => {
            match num(&args[$i]) {
                Some(d) => d,
                None => return Ok(err(format!("{name}: argument {} must be a number", $i + 1), sp)),
            }
        };
    }
    macro_rules! list {
        ($i:expr) => {
            match &args[$i] {
                Val::List(n) => ev.list_items(*n)?,
                _ => return Ok(err(format!("{name}: argument {} must be a list", $i + 1), sp)),
            }
        };
    }
    macro_rules! strs {
        ($i:expr) => {{
            let items = list!($i);
            let mut out = Vec::new();
            for it in items {
                match it {
                    Val::Str(s) => out.push(s.to_string()),
                    Val::Err(_) => return Ok(it),
                    Val::Top | Val::Basic(..) | Val::Disj(_) => return Ok(incomplete(name, sp)),
                    _ => return Ok(err(format!("{name}: list elements must be strings"), sp)),
                }
            }
            out
        }};
    }
    let strs_val = |ev: &mut Ev<'_>, v: Vec<String>| -> R<Val> {
        let items = v.into_iter().map(|s| Val::Str(Rc::from(s))).collect();
        ev.make_list(items)
    };
    Ok(match name {
        "len" => {
            check!(1);
            match &args[0] {
                Val::Str(s) => Val::int(s.len() as i128),
                Val::Bytes(b) => Val::int(b.len() as i128),
                Val::List(n) => Val::int(ev.list_items(*n)?.len() as i128),
                Val::Struct(n) => Val::int(ev.struct_fields(*n)?.len() as i128),
                Val::Top | Val::Basic(..) | Val::Disj(_) => incomplete(name, sp),
                _ => err("len: invalid argument", sp),
            }
        }
        "close" => {
            check!(1);
            match &args[0] {
                Val::Struct(_) => ev.close_struct(args[0].clone())?,
                _ => err("close: argument must be a struct", sp),
            }
        }
        "and" => {
            check!(1);
            let items = list!(0);
            let mut acc = Val::Top;
            for it in items {
                if matches!(it, Val::Struct(_) | Val::List(_)) {
                    return Ok(Val::err(DiagnosticKind::Unsupported, "not supported: and() of structs", Some(sp)));
                }
                acc = ev.unify_scalar(acc, it, Some(sp))?;
            }
            acc
        }
        "or" => {
            check!(1);
            let items = list!(0);
            if items.is_empty() {
                return Ok(err("empty disjunction", sp));
            }
            Val::Disj(Rc::new(items.into_iter().map(|v| (v, false)).collect()))
        }
        "div" | "mod" | "quo" | "rem" => {
            check!(2);
            let (a, b) = (int!(0), int!(1));
            if b == 0 {
                return Ok(err("division by zero", sp));
            }
            let r = match name {
                "div" => a.div_euclid(b),
                "mod" => a.rem_euclid(b),
                "quo" => a / b,
                _ => a % b,
            };
            Val::int(r)
        }
        "strings.Contains" => {
            check!(2);
            Val::Bool(s!(0).contains(&*s!(1)))
        }
        "strings.ContainsAny" => {
            check!(2);
            let set = s!(1);
            Val::Bool(s!(0).chars().any(|c| set.contains(c)))
        }
        "strings.HasPrefix" => {
            check!(2);
            Val::Bool(s!(0).starts_with(&*s!(1)))
        }
        "strings.HasSuffix" => {
            check!(2);
            Val::Bool(s!(0).ends_with(&*s!(1)))
        }
        "strings.Join" => {
            check!(2);
            let v = strs!(0);
            Val::str(&v.join(&s!(1)))
        }
        "strings.Split" => {
            check!(2);
            let (a, b) = (s!(0), s!(1));
            let parts: Vec<String> = if b.is_empty() {
                a.chars().map(|c| c.to_string()).collect()
            } else {
                a.split(&*b).map(str::to_string).collect()
            };
            strs_val(ev, parts)?
        }
        "strings.SplitN" => {
            check!(3);
            let (a, b, n) = (s!(0), s!(1), int!(2));
            let parts: Vec<String> = if n < 0 {
                a.split(&*b).map(str::to_string).collect()
            } else if n == 0 {
                Vec::new()
            } else {
                a.splitn(n as usize, &*b).map(str::to_string).collect()
            };
            strs_val(ev, parts)?
        }
        "strings.ToUpper" => {
            check!(1);
            Val::str(&s!(0).to_uppercase())
        }
        "strings.ToLower" => {
            check!(1);
            Val::str(&s!(0).to_lowercase())
        }
        "strings.ToTitle" | "strings.ToCamel" => {
            // CUE's own: the letter that begins each word (after white space, or first) is
            // upper-cased (`ToTitle`) or lower-cased (`ToCamel`), the rest kept
            check!(1);
            let mut prev = ' ';
            let mut out = String::new();
            for c in s!(0).chars() {
                if prev.is_whitespace() {
                    if name == "strings.ToTitle" {
                        out.extend(c.to_uppercase());
                    } else {
                        out.extend(c.to_lowercase());
                    }
                } else {
                    out.push(c);
                }
                prev = c;
            }
            Val::str(&out)
        }
        "strings.TrimSpace" => {
            check!(1);
            Val::str(s!(0).trim())
        }
        "strings.Trim" => {
            check!(2);
            let set = s!(1);
            Val::str(s!(0).trim_matches(|c| set.contains(c)))
        }
        "strings.TrimLeft" => {
            check!(2);
            let set = s!(1);
            Val::str(s!(0).trim_start_matches(|c| set.contains(c)))
        }
        "strings.TrimRight" => {
            check!(2);
            let set = s!(1);
            Val::str(s!(0).trim_end_matches(|c| set.contains(c)))
        }
        "strings.TrimPrefix" => {
            check!(2);
            let (a, p) = (s!(0), s!(1));
            Val::str(a.strip_prefix(&*p).unwrap_or(&a))
        }
        "strings.TrimSuffix" => {
            check!(2);
            let (a, p) = (s!(0), s!(1));
            Val::str(a.strip_suffix(&*p).unwrap_or(&a))
        }
        "strings.Replace" => {
            check!(4);
            let (a, old, new, n) = (s!(0), s!(1), s!(2), int!(3));
            if n < 0 { Val::str(&a.replace(&*old, &new)) } else { Val::str(&a.replacen(&*old, &new, n as usize)) }
        }
        "strings.Repeat" => {
            check!(2);
            let (a, n) = (s!(0), int!(1));
            if n < 0 || (a.len() as i128).saturating_mul(n) > 1 << 24 {
                return Ok(err("strings.Repeat: invalid count", sp));
            }
            Val::str(&a.repeat(n as usize))
        }
        "strings.Index" => {
            check!(2);
            Val::int(s!(0).find(&*s!(1)).map(|i| i as i128).unwrap_or(-1))
        }
        "strings.LastIndex" => {
            check!(2);
            Val::int(s!(0).rfind(&*s!(1)).map(|i| i as i128).unwrap_or(-1))
        }
        "strings.Count" => {
            check!(2);
            let (a, b) = (s!(0), s!(1));
            if b.is_empty() {
                Val::int(a.chars().count() as i128 + 1)
            } else {
                Val::int(a.matches(&*b).count() as i128)
            }
        }
        "strings.Fields" => {
            check!(1);
            let parts = s!(0).split_whitespace().map(str::to_string).collect();
            strs_val(ev, parts)?
        }
        "strings.MinRunes" => {
            check!(2);
            Val::Bool(s!(0).chars().count() as i128 >= int!(1))
        }
        "strings.MaxRunes" => {
            check!(2);
            Val::Bool(s!(0).chars().count() as i128 <= int!(1))
        }
        "strings.Runes" => {
            check!(1);
            let items = s!(0).chars().map(|c| Val::int(c as i128)).collect();
            ev.make_list(items)?
        }
        "list.Concat" => {
            check!(1);
            let outer = list!(0);
            let mut out = Vec::new();
            for l in outer {
                match l {
                    Val::List(n) => out.extend(ev.list_items(n)?),
                    _ => return Ok(err("list.Concat: elements must be lists", sp)),
                }
            }
            ev.make_list(out)?
        }
        "list.Contains" => {
            check!(2);
            let items = list!(0);
            let mut found = false;
            for it in items {
                let same = match (&it, &args[1]) {
                    // structs and lists compare by value, as `==` does for lists
                    (Val::Struct(_), Val::Struct(_)) | (Val::List(_), Val::List(_)) => ev.equal(&it, &args[1])?,
                    _ => {
                        it.is_concrete_scalar()
                            && ev
                                .unify_scalar(it.clone(), args[1].clone(), None)
                                .is_ok_and(|v| !matches!(v, Val::Err(_)))
                    }
                };
                if same {
                    found = true;
                    break;
                }
            }
            Val::Bool(found)
        }
        "list.Flatten" | "list.FlattenN" => {
            let depth = if name == "list.FlattenN" {
                check!(2);
                int!(1)
            } else {
                check!(1);
                -1
            };
            fn flat(ev: &mut Ev<'_>, items: Vec<Val>, d: i128, out: &mut Vec<Val>) -> R<()> {
                for it in items {
                    match it {
                        Val::List(n) if d != 0 => {
                            let inner = ev.list_items(n)?;
                            flat(ev, inner, d - 1, out)?;
                        }
                        other => out.push(other),
                    }
                }
                Ok(())
            }
            let items = list!(0);
            let mut out = Vec::new();
            flat(ev, items, depth, &mut out)?;
            ev.make_list(out)?
        }
        "list.Range" => {
            check!(3);
            let (a, b, st) = (number!(0), number!(1), number!(2));
            if st.is_zero() {
                return Ok(err("list.Range: step must be non zero", sp));
            }
            let up = st.cmp(Decimal::from_int(0)).is_gt();
            if up && a.cmp(b).is_gt() {
                return Ok(err("list.Range: end must be greater than start when step is positive", sp));
            }
            if !up && a.cmp(b).is_lt() {
                return Ok(err("list.Range: end must be less than start when step is negative", sp));
            }
            let mut out = Vec::new();
            let mut cur = a;
            while (up && cur.cmp(b).is_lt()) || (!up && cur.cmp(b).is_gt()) {
                if out.len() > 1_000_000 {
                    return Ok(err("list.Range: too many elements", sp));
                }
                // CUE's decimal sums: a value with no fractional digits is an int (`0`, then
                // `0.5`, `1.0`, `1.5` for a step of 0.5)
                out.push(if cur.exp == 0 { Val::int(cur.mant) } else { Val::float(cur) });
                cur = match cur.add(st) {
                    Some(c) => c,
                    None => break,
                };
            }
            ev.make_list(out)?
        }
        "list.Sum" | "list.Product" | "list.Max" | "list.Min" | "list.Avg" => {
            check!(1);
            let items = list!(0);
            let mut all_int = true;
            let mut ds = Vec::new();
            for it in &items {
                match num(it) {
                    Some(d) => {
                        all_int &= matches!(it, Val::Int(_));
                        ds.push(d)
                    }
                    None => return Ok(err(format!("{name}: elements must be numbers"), sp)),
                }
            }
            let r = match name {
                "list.Sum" => ds.iter().try_fold(Decimal::from_int(0), |a, b| a.add(*b)),
                "list.Product" => ds.iter().try_fold(Decimal::from_int(1), |a, b| a.mul(*b)),
                "list.Max" => ds.iter().copied().reduce(|a, b| if b.cmp(a).is_gt() { b } else { a }),
                "list.Min" => ds.iter().copied().reduce(|a, b| if b.cmp(a).is_lt() { b } else { a }),
                _ => {
                    all_int = false;
                    if ds.is_empty() {
                        None
                    } else {
                        ds.iter()
                            .try_fold(Decimal::from_int(0), |a, b| a.add(*b))
                            .and_then(|s| s.div(Decimal::from_int(ds.len() as i128)))
                    }
                }
            };
            match r {
                Some(d) if all_int => d.to_int().map(Val::int).unwrap_or(Val::float(d)),
                Some(d) => Val::float(d),
                None => err(format!("{name}: empty list or overflow"), sp),
            }
        }
        "list.Take" | "list.Drop" => {
            check!(2);
            let items = list!(0);
            let n = int!(1);
            if n < 0 {
                return Ok(err(format!("{name}: negative index"), sp));
            }
            let n = (n as usize).min(items.len());
            let out = if name == "list.Take" { items[..n].to_vec() } else { items[n..].to_vec() };
            ev.make_list(out)?
        }
        "list.Slice" => {
            check!(3);
            let items = list!(0);
            let (a, b) = (int!(1), int!(2));
            if a < 0 || b < a || b as usize > items.len() {
                return Ok(err("list.Slice: index out of range", sp));
            }
            ev.make_list(items[a as usize..b as usize].to_vec())?
        }
        "list.Repeat" => {
            check!(2);
            let items = list!(0);
            let n = int!(1);
            if n < 0 || (items.len() as i128).saturating_mul(n) > 1_000_000 {
                return Ok(err("list.Repeat: invalid count", sp));
            }
            let mut out = Vec::new();
            for _ in 0..n {
                out.extend(items.iter().cloned());
            }
            ev.make_list(out)?
        }
        "list.SortStrings" => {
            check!(1);
            let mut v = strs!(0);
            v.sort();
            strs_val(ev, v)?
        }
        "list.UniqueItems" => {
            check!(1);
            let items = list!(0);
            let mut ok = true;
            for i in 0..items.len() {
                for j in 0..i {
                    let a = ev.unify_scalar(items[i].clone(), items[j].clone(), None)?;
                    if items[i].is_concrete_scalar() && !matches!(a, Val::Err(_)) {
                        ok = false;
                    }
                }
            }
            Val::Bool(ok)
        }
        "list.MinItems" => {
            check!(2);
            Val::Bool(list!(0).len() as i128 >= int!(1))
        }
        "list.MaxItems" => {
            check!(2);
            Val::Bool(list!(0).len() as i128 <= int!(1))
        }
        "math.Floor" | "math.Ceil" | "math.Round" | "math.Trunc" => {
            check!(1);
            let d = number!(0);
            let f = d.to_f64();
            let r = match name {
                "math.Floor" => f.floor(),
                "math.Ceil" => f.ceil(),
                "math.Round" => f.round(),
                _ => f.trunc(),
            };
            if r.abs() < 1e18 { Val::int(r as i128) } else { float_val(r, sp) }
        }
        "math.Abs" => {
            check!(1);
            match &args[0] {
                Val::Int(i) => Val::int(i.get().abs()),
                Val::Float(d) => Val::float(Decimal::new(d.mant.abs(), d.exp)),
                _ => err("math.Abs: argument must be a number", sp),
            }
        }
        "math.Log" | "math.Exp"
            if args.len() == 1 && num(&args[0]).and_then(Decimal::to_int) == Some(i128::from(name == "math.Log")) =>
        {
            // the exact results, which CUE's decimal arithmetic makes integers: `Exp(0)` is
            // `1`, `Log(1)` is `0` (other values are computed in binary floating point: 17
            // significant digits where CUE v0.4 prints 24)
            check!(1);
            Val::int(i128::from(name == "math.Exp"))
        }
        "math.Sqrt" | "math.Log" | "math.Exp" => {
            check!(1);
            let f = number!(0).to_f64();
            let r = match name {
                "math.Sqrt" => f.sqrt(),
                "math.Log" => f.ln(),
                _ => f.exp(),
            };
            float_val(r, sp)
        }
        "math.Pow" => {
            // An integral exponent is an exact power in CUE's decimal arithmetic
            // (`Decimal::powi`); an integral result with no fractional digits is an int.
            // Other exponents (and powers too large for the exact computation) are computed
            // in binary floating point: 17 significant digits where CUE v0.4 prints 24.
            check!(2);
            let (x, y) = (number!(0), number!(1));
            match y.to_int() {
                Some(n) if x.is_zero() && n <= 0 => {
                    err("math.Pow: invalid operation: zero to a power that is not positive", sp)
                }
                Some(n) => match x.powi(n) {
                    Some(p) if p.exp == 0 => Val::int(p.mant),
                    Some(p) => Val::float(p),
                    None => float_val(x.to_f64().powf(y.to_f64()), sp),
                },
                None => float_val(x.to_f64().powf(y.to_f64()), sp),
            }
        }
        "math.Pow10" => {
            // `1E+n` as CUE's decimal: an int's value, printed as CUE prints it (`1E+3`,
            // `1`, `0.001`)
            check!(1);
            let n = int!(0);
            match i32::try_from(n) {
                Ok(0) => Val::int(1),
                Ok(e) if e.unsigned_abs() <= 400 => Val::float(Decimal::new(1, e)),
                _ => err("math.Pow10: exponent out of range", sp),
            }
        }
        "regexp.Match" | "regexp.Valid" => {
            if name == "regexp.Valid" {
                check!(1);
                return Ok(Val::Bool(ev.regex(&s!(0)).is_ok()));
            }
            check!(2);
            match ev.regex(&s!(0)) {
                Ok(re) => Val::Bool(re.is_match(&s!(1))),
                Err(m) => err(m, sp),
            }
        }
        "regexp.Find" => {
            check!(2);
            match ev.regex(&s!(0)) {
                Ok(re) => match re.find(&s!(1)) {
                    Some(m) => Val::str(m.as_str()),
                    None => err("regexp.Find: no match", sp),
                },
                Err(m) => err(m, sp),
            }
        }
        "regexp.FindAll" => {
            check!(3);
            match ev.regex(&s!(0)) {
                Ok(re) => {
                    let n = int!(2);
                    let text = s!(1);
                    let it = re.find_iter(&text).map(|m| m.as_str().to_string());
                    let v: Vec<String> = if n < 0 { it.collect() } else { it.take(n as usize).collect() };
                    if v.is_empty() { err("regexp.FindAll: no match", sp) } else { strs_val(ev, v)? }
                }
                Err(m) => err(m, sp),
            }
        }
        "regexp.FindSubmatch" => {
            check!(2);
            match ev.regex(&s!(0)) {
                Ok(re) => {
                    let text = s!(1);
                    match re.captures(&text) {
                        Some(c) => {
                            let v = c.iter().map(|m| m.map(|m| m.as_str().to_string()).unwrap_or_default()).collect();
                            strs_val(ev, v)?
                        }
                        None => err("regexp.FindSubmatch: no match", sp),
                    }
                }
                Err(m) => err(m, sp),
            }
        }
        "regexp.ReplaceAll" | "regexp.ReplaceAllLiteral" => {
            check!(3);
            match ev.regex(&s!(0)) {
                Ok(re) => {
                    let (text, rep) = (s!(1), s!(2));
                    if name == "regexp.ReplaceAll" {
                        Val::str(&re.replace_all(&text, &*rep))
                    } else {
                        Val::str(&re.replace_all(&text, regex::NoExpand(&rep)))
                    }
                }
                Err(m) => err(m, sp),
            }
        }
        "strconv.Atoi" => {
            check!(1);
            match s!(0).parse::<i64>() {
                Ok(i) => Val::int(i as i128),
                Err(e) => err(format!("strconv.Atoi: {e}"), sp),
            }
        }
        "strconv.ParseInt" => {
            check!(3);
            let (t, base, bits) = (s!(0), int!(1), int!(2));
            let bits = if bits == 0 { 64 } else { bits };
            if !(1..=64).contains(&bits) {
                return Ok(err(format!("strconv.ParseInt: invalid bit size {bits}"), sp));
            }
            // base 0 takes it from the prefix (`0x`, `0o`, `0b`, a leading `0` for octal) and
            // allows underscores, as Go's strconv.ParseInt
            let (neg, body) = match t.strip_prefix('-') {
                Some(b) => (true, b),
                None => (false, t.strip_prefix('+').unwrap_or(&t)),
            };
            let (base, digits) = if base == 0 {
                let lower = body.to_ascii_lowercase();
                let (b, skip) = if lower.starts_with("0x") {
                    (16, 2)
                } else if lower.starts_with("0b") {
                    (2, 2)
                } else if lower.starts_with("0o") {
                    (8, 2)
                } else if body.len() > 1 && body.starts_with('0') {
                    (8, 1)
                } else {
                    (10, 0)
                };
                (b, body[skip..].replace('_', ""))
            } else {
                (base, body.to_string())
            };
            if !(2..=36).contains(&base) {
                return Ok(err("strconv.ParseInt: invalid base", sp));
            }
            let limit = 1i128 << (bits - 1);
            match i128::from_str_radix(&digits, base as u32) {
                _ if digits.starts_with(['+', '-']) => {
                    err(format!("strconv.ParseInt: parsing {t:?}: invalid syntax"), sp)
                }
                Ok(i) if (neg && i > limit) || (!neg && i >= limit) => {
                    err(format!("strconv.ParseInt: parsing {t:?}: value out of range"), sp)
                }
                Ok(i) => Val::int(if neg { -i } else { i }),
                Err(_) => err(format!("strconv.ParseInt: parsing {t:?}: invalid syntax"), sp),
            }
        }
        "strconv.Itoa" => {
            check!(1);
            Val::str(&int!(0).to_string())
        }
        "strconv.FormatInt" => {
            check!(2);
            let (i, base) = (int!(0), int!(1));
            if !(2..=36).contains(&base) {
                return Ok(err("strconv.FormatInt: invalid base", sp));
            }
            Val::str(&format_radix(i, base as u32))
        }
        "strconv.ParseBool" => {
            check!(1);
            match &*s!(0) {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Val::Bool(true),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Val::Bool(false),
                other => err(format!("strconv.ParseBool: invalid syntax {other:?}"), sp),
            }
        }
        "strconv.FormatBool" => {
            check!(1);
            match &args[0] {
                Val::Bool(b) => Val::str(if *b { "true" } else { "false" }),
                _ => err("strconv.FormatBool: argument must be a bool", sp),
            }
        }
        "strconv.ParseFloat" => {
            check!(2);
            match Decimal::parse(&s!(0)) {
                Some(d) => Val::float(d),
                None => err("strconv.ParseFloat: invalid syntax", sp),
            }
        }
        "strconv.Quote" => {
            check!(1);
            Val::str(&go_quote(&s!(0)))
        }
        "strconv.Unquote" => {
            check!(1);
            let t = s!(0);
            match serde_json::from_str::<String>(&t) {
                Ok(u) if t.starts_with('"') => Val::str(&u),
                _ => err("strconv.Unquote: invalid syntax", sp),
            }
        }
        "json.Marshal" => {
            check!(1);
            let v = args[0].clone();
            match to_json_text(ev, v, sp)? {
                Ok(s) => Val::str(&s),
                Err(e) => e,
            }
        }
        "json.Valid" => {
            check!(1);
            Val::Bool(serde_json::from_slice::<serde_json::Value>(&data!(0)).is_ok())
        }
        "json.Unmarshal" => {
            check!(1);
            match serde_json::from_slice::<serde_json::Value>(&data!(0)) {
                Ok(j) => from_json(ev, &j, 0, sp)?,
                Err(e) => err(format!("json.Unmarshal: {e}"), sp),
            }
        }
        "yaml.Marshal" => {
            check!(1);
            let v = args[0].clone();
            let mut errs = Vec::new();
            let pv = ev.val_to_public(v, Some(sp), &mut String::new(), &mut errs, 0)?;
            if let Some(d) = errs.into_iter().next() {
                return Ok(err(d.message, sp));
            }
            match pv.to_yaml() {
                Ok(s) => Val::str(&s),
                Err(d) => Val::err(
                    DiagnosticKind::Incomplete,
                    d.0.first().map(|x| x.message.clone()).unwrap_or_default(),
                    Some(sp),
                ),
            }
        }
        "yaml.Unmarshal" => {
            check!(1);
            match serde_yaml::from_slice::<serde_json::Value>(&data!(0)) {
                Ok(j) => from_json(ev, &j, 0, sp)?,
                Err(e) => err(format!("yaml.Unmarshal: {e}"), sp),
            }
        }
        "base64.Encode" => {
            check!(2);
            use base64::Engine;
            let data: Vec<u8> = match &args[1] {
                Val::Str(s) => s.as_bytes().to_vec(),
                Val::Bytes(b) => b.to_vec(),
                _ => return Ok(err("base64.Encode: argument must be bytes or string", sp)),
            };
            Val::str(&base64::engine::general_purpose::STANDARD.encode(data))
        }
        "base64.Decode" => {
            check!(2);
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(s!(1).as_bytes()) {
                Ok(b) => Val::Bytes(Rc::from(b)),
                Err(e) => err(format!("base64.Decode: {e}"), sp),
            }
        }
        _ => Val::err(DiagnosticKind::Unsupported, format!("not supported: {name}"), Some(sp)),
    })
}

fn format_radix(i: i128, base: u32) -> String {
    if i == 0 {
        return "0".into();
    }
    let neg = i < 0;
    let mut n = i.unsigned_abs();
    let mut out = Vec::new();
    while n > 0 {
        let d = (n % base as u128) as u32;
        out.push(std::char::from_digit(d, base).unwrap_or('?'));
        n /= base as u128;
    }
    if neg {
        out.push('-');
    }
    out.iter().rev().collect()
}

fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn to_json_text(ev: &mut Ev<'_>, v: Val, sp: Span) -> R<Result<String, Val>> {
    let mut errs = Vec::new();
    let pv = ev.val_to_public(v, Some(sp), &mut String::new(), &mut errs, 0)?;
    if let Some(d) = errs.into_iter().next() {
        return Ok(Err(err(d.message, sp)));
    }
    match super::export::to_compact_json(&pv) {
        Ok(s) => Ok(Ok(s)),
        Err(d) => Ok(Err(Val::err(
            DiagnosticKind::Incomplete,
            format!("json.Marshal: {}", d.0.first().map(|x| x.message.clone()).unwrap_or_default()),
            Some(sp),
        ))),
    }
}

fn from_json(ev: &mut Ev<'_>, j: &serde_json::Value, depth: usize, sp: Span) -> R<Val> {
    use serde_json::Value as J;
    if depth > 100 {
        return Ok(err("document nested too deeply", sp));
    }
    Ok(match j {
        J::Null => Val::Null,
        J::Bool(b) => Val::Bool(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Val::int(i as i128)
            } else if let Some(u) = n.as_u64() {
                Val::int(u as i128)
            } else {
                match Decimal::parse(&n.to_string()) {
                    Some(d) => Val::float(d),
                    None => err("number out of range", sp),
                }
            }
        }
        J::String(s) => Val::str(s),
        J::Array(a) => {
            let mut items = Vec::with_capacity(a.len());
            for x in a {
                items.push(from_json(ev, x, depth + 1, sp)?);
            }
            ev.make_list(items)?
        }
        J::Object(o) => {
            let mut fields = Vec::with_capacity(o.len());
            for (k, x) in o {
                fields.push((k.clone(), from_json(ev, x, depth + 1, sp)?));
            }
            ev.make_struct(fields)?
        }
    })
}
