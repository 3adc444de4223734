"""A custom import-linter contract: a package may import only itself and the standard library."""

from __future__ import annotations

import sys

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


class StdlibOnlyContract(Contract):
    type_name = "stdlib_only"

    source_package = fields.StringField()

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        package = str(self.source_package)
        modules = {package, *graph.find_descendants(package)}
        violations = []
        for importer in sorted(modules):
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                top = imported.split(".", 1)[0]
                if top == package or top in sys.stdlib_module_names or top == "__future__":
                    continue
                lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                violations.append((importer, imported, lines))
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, lines in check.metadata["violations"]:
            output.print_error(f"{importer} imports {imported} (l.{', '.join(map(str, lines))})", bold=False)


class PublicApiOnlyContract(Contract):
    """Modules under `source_package` may import, of the project's own packages, only `public_module`
    itself (not its submodules) and their own package: a plugin sees CourseSignal through one module."""

    type_name = "public_api_only"

    source_package = fields.StringField()
    public_module = fields.StringField()
    internal_packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        source, public = str(self.source_package), str(self.public_module)
        internal = {str(p) for p in self.internal_packages}
        violations = []
        for importer in sorted(graph.find_descendants(source)):
            own = ".".join(importer.split(".")[:2])  # plugins.<name>
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                top = imported.split(".", 1)[0]
                if top not in internal or imported in (public, own) or imported.startswith(own + "."):
                    continue
                lines = [d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)]
                violations.append((importer, imported, lines))
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, lines in check.metadata["violations"]:
            output.print_error(f"{importer} imports {imported} (l.{', '.join(map(str, lines))})", bold=False)
