//! Public API behaviour of `forge_config::cue`: attributes, diagnostics, accessors, limits.

use forge_config::cue::ast::Arena;
use forge_config::cue::{
    DiagnosticKind, EvalOptions, FileId, ParseOptions, SourceFile, ValueKind, evaluate_files, export_json, parse_file,
};

fn eval(text: &str, opts: &EvalOptions) -> Result<forge_config::cue::Value, forge_config::cue::Diagnostics> {
    evaluate_files(&[SourceFile::new("t.cue", text)], opts)
}

#[test]
fn attribute_after_value_kept_with_span() {
    let src = "image: string @artifact(\"web.uri\")\nrepo: string @repo(path=\"publishers.docker.registry\")\n";
    let v = eval(src, &EvalOptions::strict()).expect("evaluates");
    let f = v.get_field("image").expect("field");
    assert!(!f.value.is_concrete());
    assert_eq!(f.value.kind, ValueKind::NonConcrete("string".into()));
    let a = f.attribute("artifact").expect("attr");
    assert_eq!(a.positional(0), Some("web.uri"));
    assert_eq!(&src[a.span.start as usize..a.span.end as usize], "@artifact(\"web.uri\")");
    let r = v.get_field("repo").and_then(|f| f.attribute("repo")).expect("repo attr");
    assert_eq!(r.named("path"), Some("publishers.docker.registry"));
}

#[test]
fn value_position_attribute_only_in_config_mode() {
    let src = "image: @artifact(name=\"web\", field=\"uri\")\n";
    let v = eval(src, &EvalOptions::config()).expect("config mode accepts");
    let f = v.get_field("image").expect("field");
    assert_eq!(f.value.kind, ValueKind::NonConcrete("_".into()));
    let a = f.attribute("artifact").expect("attr");
    assert_eq!(a.named("name"), Some("web"));
    assert_eq!(a.named("field"), Some("uri"));
    assert_eq!(&src[a.span.start as usize..a.span.end as usize], "@artifact(name=\"web\", field=\"uri\")");
    let err = eval(src, &EvalOptions::strict()).expect_err("strict mode rejects");
    assert_eq!(err.0[0].kind, DiagnosticKind::Syntax);
    assert_eq!((err.0[0].line, err.0[0].column), (Some(1), Some(8)));
}

#[test]
fn diagnostics_carry_location_path_and_render() {
    let src = "package project\n\nname: \"web\"\nci: {\n    port: int & >=1\n    port: 0\n}\n";
    let err = eval(src, &EvalOptions::config()).expect_err("bound violation");
    let d = &err.0[0];
    assert_eq!(d.kind, DiagnosticKind::Eval);
    assert_eq!(d.path.as_deref(), Some("ci.port"));
    assert_eq!(d.file.as_deref(), Some("t.cue"));
    assert!(d.line.is_some() && d.column.is_some());
    let text = err.to_string();
    assert!(text.contains("--> t.cue:"), "{text}");
    assert!(text.contains('^'), "{text}");
    let json = serde_json::to_value(&err).expect("serializable");
    assert_eq!(json[0]["path"], "ci.port");
    assert_eq!(json[0]["kind"], "eval");
}

#[test]
fn non_concrete_export_names_path() {
    let v = eval("a: b: {c: int, d: 1}\n", &EvalOptions::strict()).expect("evaluates");
    let err = v.to_json().expect_err("incomplete");
    assert_eq!(err.0[0].path.as_deref(), Some("a.b.c"));
    assert_eq!(err.0[0].kind, DiagnosticKind::Incomplete);
    assert!(v.to_json_string().is_err());
}

#[test]
fn accessors_and_field_order() {
    let v =
        eval("z: 1\na: {y: \"s\", x: true}\nl: [1, {k: 2}]\n#D: {q: int}\n_h: 3\no?: int\n", &EvalOptions::strict())
            .expect("evaluates");
    let names: Vec<&str> = v.fields().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["z", "a", "l", "#D", "_h", "o"]);
    assert_eq!(v.get("z").and_then(|x| x.as_i64()), Some(1));
    assert_eq!(v.get("a.y").and_then(|x| x.as_str()), Some("s"));
    assert_eq!(v.get("a.x").and_then(|x| x.as_bool()), Some(true));
    assert_eq!(v.get("l.1.k").and_then(|x| x.as_i64()), Some(2));
    assert!(v.get_field("o").is_some_and(|f| f.optional && !f.is_regular()));
    assert_eq!(v.to_json().expect("json"), serde_json::json!({"z": 1, "a": {"y": "s", "x": true}, "l": [1, {"k": 2}]}));
    let yaml = v.to_yaml().expect("yaml");
    assert!(yaml.starts_with("z: 1\na:\n"), "{yaml}");
}

#[test]
fn field_span_resolves_to_line_and_column() {
    let files = [SourceFile::new("a.cue", "a: 1\n"), SourceFile::new("b.cue", "\n  b: 2\n")];
    let v = evaluate_files(&files, &EvalOptions::strict()).expect("evaluates");
    let f = v.get_field("b").expect("b");
    assert_eq!(f.span.file, FileId(1));
    assert_eq!(files[1].line_col(f.span.start as usize), (2, 3));
}

#[test]
fn unsupported_input_reports_position() {
    let err = eval("import \"net\"\na: net.IP\n", &EvalOptions::strict()).expect_err("unsupported");
    assert_eq!(err.0[0].kind, DiagnosticKind::Unsupported);
    assert_eq!(err.0[0].line, Some(1));
    let err = eval("l: [1, 2]\na: l[0:1]\n", &EvalOptions::strict()).expect_err("unsupported");
    assert_eq!(err.0[0].kind, DiagnosticKind::Unsupported);
    assert_eq!(err.0[0].line, Some(2));
}

#[test]
fn deep_nesting_is_a_limit_error_not_a_crash() {
    let deep = format!("a: {}1{}\n", "[".repeat(5000), "]".repeat(5000));
    let err = parse_file(&Arena::new(), &SourceFile::new("d.cue", deep), FileId(0), &ParseOptions::strict())
        .expect_err("too deep");
    assert_eq!(err.0[0].kind, DiagnosticKind::Limit);
    let deep = format!("a: {}\n", "{b: ".repeat(3000) + &"}".repeat(3000));
    assert!(eval(&deep, &EvalOptions::strict()).is_err());
}

/// Fuzzer reproducer (cue_parse): a label that fails to parse inside an interpolation, in a
/// pattern label the parser backtracks from. The failed sub-parse must hand the string
/// interner back (it once left a placeholder behind and the next identifier panicked).
#[test]
fn failed_interpolation_in_a_speculative_label_is_a_syntax_error() {
    let text = "[{{[[l\t(\"e-----------------------`\\(/----------[---------------5p--------!--t));[)~)~?\"";
    for opts in [ParseOptions::strict(), ParseOptions::config()] {
        let err = parse_file(&Arena::new(), &SourceFile::new("f.cue", text), FileId(0), &opts).expect_err("invalid");
        assert_eq!(err.0[0].kind, DiagnosticKind::Syntax);
    }
    // a valid interpolation in an embedded list (tried as a pattern label, then re-parsed as
    // an expression) keeps every identifier after it resolvable
    let ok = "a: \"x\"\nb: {\n\t[\"k\\(a)\"]\n}\nc: a\n";
    assert!(parse_file(&Arena::new(), &SourceFile::new("h.cue", ok), FileId(0), &ParseOptions::strict()).is_ok());
}

#[test]
fn recursion_and_cycles_terminate() {
    // a reference chain that grows structure without bound
    let r = eval("#L: {next: #L}\nx: #L\n", &EvalOptions::strict());
    assert!(r.is_err());
    let err = eval("a: b + 1\nb: a + 1\n", &EvalOptions::strict()).expect_err("cycle");
    assert_eq!(err.0[0].kind, DiagnosticKind::Cycle);
    let r = eval("#T: {a: #T | *null}\nx: #T\n", &EvalOptions::strict());
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn export_matches_cue_text() {
    let out = export_json(&[SourceFile::new("t.cue", "a: \"<&>\"\nb: [1.0, 2]\nc: {}\n")], &EvalOptions::strict())
        .expect("exports");
    assert_eq!(
        out,
        "{\n    \"a\": \"\\u003c\\u0026\\u003e\",\n    \"b\": [\n        1.0,\n        2\n    ],\n    \"c\": {}\n}\n"
    );
}

/// Developer tool: `CUE_EXPORT_FILE=x.cue CUE_EXPORT_OUT=x.json cargo test --test cue_api -- --ignored`
/// exports a file (e.g. a large generated one) to compare with the official CUE oracle.
#[test]
#[ignore]
fn export_file_from_env() {
    let (Ok(input), Ok(out)) = (std::env::var("CUE_EXPORT_FILE"), std::env::var("CUE_EXPORT_OUT")) else {
        return;
    };
    let file = SourceFile::read(std::path::Path::new(&input)).expect("readable input");
    let start = std::time::Instant::now();
    let text = match export_json(&[file], &EvalOptions::strict()) {
        Ok(t) => t,
        Err(d) => format!("error\n{d}"),
    };
    eprintln!("exported in {:?}", start.elapsed());
    std::fs::write(out, text).expect("writable output");
}

/// The parser lexes on demand and forgets tokens behind it; a speculative label parse that
/// runs over many tokens and then backtracks must still find them.
#[test]
fn a_long_speculative_label_backtracks_over_lexed_on_demand_tokens() {
    // 1,400 tokens inside the parentheses, far more than one refill of the token window
    let ones = vec!["1"; 700].join(", ");
    // `(...)` that is not followed by `:` is an embedded value, parsed twice
    let embed = format!("x: {{ (len([{ones}])) }}\n");
    let out = export_json(&[SourceFile::new("e.cue", embed)], &EvalOptions::strict()).expect("exports");
    assert_eq!(out, "{\n    \"x\": 700\n}\n");
    // `(...)` followed by `:` is a dynamic label
    let keys = vec!["\"k\""; 700].join(", ");
    let label = format!("([{keys}][699]): 1\n");
    let out = export_json(&[SourceFile::new("l.cue", label)], &EvalOptions::strict()).expect("exports");
    assert_eq!(out, "{\n    \"k\": 1\n}\n");
}

/// A lexical error anywhere in the file is the error reported, even when the parser meets a
/// syntax error first or would accept the input up to the bad token.
#[test]
fn a_lexical_error_wins_over_syntax_and_truncation() {
    let filler = "f: 1\n".repeat(1000);
    for src in [format!("a: ]\n{filler}b: \"open\n"), format!("a: 1\n{filler}b: 2 ^\n")] {
        let err =
            parse_file(&Arena::new(), &SourceFile::new("x.cue", src.as_str()), FileId(0), &ParseOptions::strict())
                .expect_err("invalid");
        let d = &err.0[0];
        assert_eq!(d.kind, DiagnosticKind::Syntax);
        assert_eq!(d.line, Some(1002), "{}", d.message);
        assert!(d.message.contains("not terminated") || d.message.contains("illegal character"), "{}", d.message);
    }
}

/// A predeclared type name that no declaration binds resolves without a scope walk; one that
/// any declaration binds (field, `let`, alias, pattern alias, comprehension variable) is looked
/// up through the scopes, where the binding shadows the type. Outputs agree with official CUE.
#[test]
fn predeclared_types_resolve_unless_a_declaration_shadows_them() {
    let shadowed = "x: {int: 3, a: int}\nb: int & 4\nl: {\n\tlet string = \"s\"\n\tc: string\n}\n\
                    f: [for bool in [1, 2] {bool}]\np: {[number=string]: {k: number}}\np: q: {}\n\
                    n: {\n\tbytes=\"k\": 1\n\tm: bytes\n}\nt: float & 1.5\n";
    let out = export_json(&[SourceFile::new("s.cue", shadowed)], &EvalOptions::strict()).expect("exports");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        v,
        serde_json::json!({"x": {"int": 3, "a": 3}, "b": 4, "l": {"c": "s"}, "f": [1, 2],
            "p": {"q": {"k": "q"}}, "n": {"k": 1, "m": 1}, "t": 1.5})
    );
    let plain = "a: string & \"x\"\nb: [...int] & [1, 2]\nc: number | *1.5\nd: bool & true\n";
    let out = export_json(&[SourceFile::new("p.cue", plain)], &EvalOptions::strict()).expect("exports");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v, serde_json::json!({"a": "x", "b": [1, 2], "c": 1.5, "d": true}));
    // a field in one file shadows the type in another file of the package
    let files =
        [SourceFile::new("a.cue", "package p\ny: string\n"), SourceFile::new("b.cue", "package p\nstring: 1\n")];
    let out = export_json(&files, &EvalOptions::strict()).expect("exports");
    assert_eq!(out, "{\n    \"y\": 1,\n    \"string\": 1\n}\n");
}
