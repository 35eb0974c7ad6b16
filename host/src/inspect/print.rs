//! WIT as text: a component's whole world for the listing (wit-component's
//! `WitPrinter`), and one function or type for a problem, where a type may
//! have to be spelled out with its definition to show a difference.

use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{Function, FunctionKind, Handle, Resolve, Type, TypeDefKind, TypeOwner, WorldId};

use super::compare::is_async;

/// The component's world and the packages it uses, printed as WIT.
pub(crate) fn component_listing(binary: &[u8]) -> String {
    match decode(binary) {
        Ok(DecodedWasm::Component(resolve, world)) => print_world(&resolve, world)
            .unwrap_or_else(|e| format!("(its WIT cannot be printed: {e:#})")),
        Ok(DecodedWasm::WitPackage(..)) => "(a WIT package: types only, no code)".to_string(),
        Err(e) => format!("(its imports and exports cannot be described in WIT: {e:#})"),
    }
}

/// `world` and every package it uses, in WIT, without doc comments.
pub(crate) fn print_world(resolve: &Resolve, world: WorldId) -> Result<String, String> {
    let main = resolve.worlds[world]
        .package
        .ok_or("the world has no package")?;
    let nested: Vec<_> = resolve
        .topological_packages()
        .into_iter()
        .filter(|&p| p != main)
        .collect();
    let mut printer = wit_component::WitPrinter::default();
    printer.emit_docs(false);
    printer
        .print(resolve, main, &nested)
        .map_err(|e| format!("{e:#}"))?;
    Ok(printer.output.to_string())
}

/// `func(a: T) -> R` as WIT writes it (a method without its `self`). With
/// `spelled_out`, named types are given with their definitions and resources
/// with the interface that defines them.
pub(crate) fn func_text(resolve: &Resolve, f: &Function, spelled_out: bool) -> String {
    let skip = usize::from(
        matches!(
            f.kind,
            FunctionKind::Method(_) | FunctionKind::AsyncMethod(_)
        ) && !spelled_out,
    );
    let params: Vec<String> = f
        .params
        .iter()
        .skip(skip)
        .map(|p| format!("{}: {}", p.name, type_text(resolve, p.ty, spelled_out)))
        .collect();
    let prefix = if is_async(&f.kind) {
        "async func"
    } else {
        "func"
    };
    let mut text = format!("{prefix}({})", params.join(", "));
    if let Some(result) = f.result {
        text.push_str(" -> ");
        text.push_str(&type_text(resolve, result, spelled_out));
    }
    text
}

fn type_text(resolve: &Resolve, ty: Type, spelled_out: bool) -> String {
    if !spelled_out {
        // By name: the printer's job (only a malformed resolve gets past it).
        let mut printer = wit_component::WitPrinter::default();
        if printer.print_type_name(resolve, &ty).is_ok() {
            return printer.output.to_string();
        }
    }
    let id = match ty {
        Type::Bool => return "bool".into(),
        Type::U8 => return "u8".into(),
        Type::U16 => return "u16".into(),
        Type::U32 => return "u32".into(),
        Type::U64 => return "u64".into(),
        Type::S8 => return "s8".into(),
        Type::S16 => return "s16".into(),
        Type::S32 => return "s32".into(),
        Type::S64 => return "s64".into(),
        Type::F32 => return "f32".into(),
        Type::F64 => return "f64".into(),
        Type::Char => return "char".into(),
        Type::String => return "string".into(),
        Type::ErrorContext => return "error-context".into(),
        Type::Id(id) => id,
    };
    let t = |ty: Type| type_text(resolve, ty, spelled_out);
    let opt = |ty: Option<Type>| ty.map_or("_".to_string(), t);
    let def = &resolve.types[id];
    let name = def.name.as_deref();
    let body = match &def.kind {
        TypeDefKind::Resource => {
            let name = name.unwrap_or("?");
            return match (spelled_out, def.owner) {
                (true, TypeOwner::Interface(i)) => match resolve.id_of(i) {
                    Some(iface) => format!("{iface}.{name}"),
                    None => format!("{name} (of an interface of the component's own)"),
                },
                (true, TypeOwner::World(_)) => format!("{name} (of the component's own)"),
                _ => name.to_string(),
            };
        }
        TypeDefKind::Handle(Handle::Own(r)) => return t(Type::Id(*r)),
        TypeDefKind::Handle(Handle::Borrow(r)) => return format!("borrow<{}>", t(Type::Id(*r))),
        TypeDefKind::Type(inner) => match name {
            Some(name) if !spelled_out => return name.to_string(),
            _ => return t(*inner),
        },
        TypeDefKind::Option(ty) => format!("option<{}>", t(*ty)),
        TypeDefKind::List(ty) => format!("list<{}>", t(*ty)),
        TypeDefKind::FixedLengthList(ty, n) => format!("list<{}, {n}>", t(*ty)),
        TypeDefKind::Map(k, v) => format!("map<{}, {}>", t(*k), t(*v)),
        TypeDefKind::Future(ty) => ty.map_or("future".into(), |ty| format!("future<{}>", t(ty))),
        TypeDefKind::Stream(ty) => ty.map_or("stream".into(), |ty| format!("stream<{}>", t(ty))),
        TypeDefKind::Result(r) => match (r.ok, r.err) {
            (None, None) => "result".to_string(),
            (Some(ok), None) => format!("result<{}>", t(ok)),
            (ok, Some(err)) => format!("result<{}, {}>", opt(ok), t(err)),
        },
        TypeDefKind::Tuple(tuple) => format!(
            "tuple<{}>",
            tuple
                .types
                .iter()
                .map(|ty| t(*ty))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Record(r) => format!(
            "record {{ {} }}",
            r.fields
                .iter()
                .map(|f| format!("{}: {}", f.name, t(f.ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Variant(v) => format!(
            "variant {{ {} }}",
            v.cases
                .iter()
                .map(|c| match c.ty {
                    Some(ty) => format!("{}({})", c.name, t(ty)),
                    None => c.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Enum(e) => format!(
            "enum {{ {} }}",
            e.cases
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Flags(fl) => format!(
            "flags {{ {} }}",
            fl.flags
                .iter()
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TypeDefKind::Unknown => "?".to_string(),
    };
    match name {
        // A named type: by its name, or, spelled out, `name: definition`.
        Some(name) if spelled_out => format!("{name} = {body}"),
        Some(name) => name.to_string(),
        None => body,
    }
}
