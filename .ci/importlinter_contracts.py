"""Custom import-linter contracts: a package that may import only itself and the standard library, and
plugins that see CourseSignal through its one public module."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class _ImportRule(Contract):
    """Every direct import of the checked modules must pass `allowed`; the others are reported by line."""

    def modules(self, graph: ImportGraph) -> Iterable[str]:
        raise NotImplementedError

    def allowed(self, importer: str, imported: str) -> bool:
        raise NotImplementedError

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        violations = []
        for importer in sorted(self.modules(graph)):
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                if self.allowed(importer, imported):
                    continue
                lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                violations.append((importer, imported, lines))
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, lines in check.metadata["violations"]:
            output.print_error(f"{importer} imports {imported} (l.{', '.join(map(str, lines))})", bold=False)


class StdlibOnlyContract(_ImportRule):
    type_name = "stdlib_only"

    source_package = fields.StringField()

    def modules(self, graph: ImportGraph) -> Iterable[str]:
        package = str(self.source_package)
        return {package, *graph.find_descendants(package)}

    def allowed(self, importer: str, imported: str) -> bool:
        top = imported.split(".", 1)[0]
        return top == str(self.source_package) or top in sys.stdlib_module_names or top == "__future__"


class PublicApiOnlyContract(_ImportRule):
    """Modules under `source_package` may import, of the project's own packages, only `public_module`
    itself (not its submodules) and their own package: a plugin sees CourseSignal through one module."""

    type_name = "public_api_only"

    source_package = fields.StringField()
    public_module = fields.StringField()
    internal_packages = fields.ListField(subfield=fields.StringField())

    def modules(self, graph: ImportGraph) -> Iterable[str]:
        return graph.find_descendants(str(self.source_package))

    def allowed(self, importer: str, imported: str) -> bool:
        own = ".".join(importer.split(".")[:2])  # plugins.<name>
        internal = {str(p) for p in self.internal_packages}
        top = imported.split(".", 1)[0]
        return top not in internal or imported in (str(self.public_module), own) or imported.startswith(own + ".")
