//! Core modules: their imports and exports, as wasmtime's compiled
//! [`Module`] lists them, against the core ABI's table (`core_abi.rs`).

use wasmtime::Module;

use crate::core_abi::{EXPORTS, IMPORTS, MODULE, type_text};
use crate::report::Problem;

/// The module's imports and exports, one a line with its type.
pub(crate) fn module_listing(module: &Module) -> String {
    let mut text = String::from("imports:\n");
    if module.imports().len() == 0 {
        text.push_str("  (none)\n");
    }
    for import in module.imports() {
        let (module, name, ty) = (import.module(), import.name(), type_text(&import.ty()));
        text.push_str(&format!("  {module:?} {name:?}: {ty}\n"));
    }
    text.push_str("exports:\n");
    if module.exports().len() == 0 {
        text.push_str("  (none)\n");
    }
    for export in module.exports() {
        text.push_str(&format!(
            "  {}: {}\n",
            export.name(),
            type_text(&export.ty())
        ));
    }
    text
}

/// Every import and export of `module` that does not fit the core ABI;
/// empty when it fits.
pub(crate) fn module_problems(module: &Module) -> Vec<Problem> {
    let mut problems = Vec::new();
    for import in module.imports() {
        let (from, name, ty) = (import.module(), import.name(), type_text(&import.ty()));
        let item = format!("import {from:?} {name:?}");
        if from != MODULE {
            problems.push(Problem {
                item,
                expected: format!("imports from `{MODULE}` only"),
                found: format!("an import from `{from}`"),
            });
            continue;
        }
        match IMPORTS.iter().find(|abi| abi.name == name) {
            Some(abi) if abi.ty == ty => {}
            Some(abi) => problems.push(Problem {
                item,
                expected: format!("`{}`", abi.ty),
                found: format!("`{ty}`"),
            }),
            None => problems.push(Problem {
                item,
                expected: format!(
                    "one of the ABI's functions ({})",
                    IMPORTS
                        .iter()
                        .map(|abi| abi.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                found: format!("`{name}` ({ty})"),
            }),
        }
    }
    for (name, ty) in EXPORTS {
        let item = format!("export {name}");
        let found = match module.get_export(name) {
            Some(export) if type_text(&export) == *ty => continue,
            Some(export) => format!("`{}`", type_text(&export)),
            None => "nothing: the module has no such export".to_string(),
        };
        problems.push(Problem {
            item,
            expected: format!("`{ty}`"),
            found,
        });
    }
    problems
}
