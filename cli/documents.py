"""`backoffice render`: preview documents to PDF files without recording anything.

The record/send commands live with the worker (they publish commands to Kafka);
this one only renders, for operators checking a template and for the demo.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from cli.main import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "documents" / "examples"


@cli.command("render")
@click.argument("invoice_json", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True,
              help="Folder to write <batch>/<number>.pdf into.")
@click.option("--template", "template_name", help="Template name (default: the tenant/credit-memo default).")
@click.option("--templates", "template_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Template root (default: BACKOFFICE_TEMPLATE_DIR or the shipped templates/).")
@click.option("--agency", "agency_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Agency profiles YAML/JSON (default: BACKOFFICE_AGENCY_PROFILES, else the example profile).")
@click.option("--timesheets", "timesheets_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON {placements: [...], approvals: [...]} for the timesheet report.")
def render_command(invoice_json: Path, out: Path, template_name: str | None, template_dir: Path | None,
                   agency_file: Path | None, timesheets_file: Path | None) -> None:
    """Render INVOICE_JSON (one invoice or a list) to PDF files and print where they are."""
    from dataclasses import replace

    from documents.export import write_batch_pdfs
    from documents.profile import load_profiles
    from documents.registry import TemplateError, TemplateRegistry
    from documents.serialize import approval_from_dict, invoice_from_dict, placement_from_dict
    from documents.settings import DocumentSettings

    settings = DocumentSettings()
    try:
        data = json.loads(invoice_json.read_text(encoding="utf-8"))
        invoices = [invoice_from_dict(item) for item in (data if isinstance(data, list) else [data])]
        if template_name:
            invoices = [replace(i, template=template_name) for i in invoices]
        placements, approvals = [], []
        if timesheets_file:
            extra = json.loads(timesheets_file.read_text(encoding="utf-8"))
            placements = [placement_from_dict(p) for p in extra.get("placements", [])]
            approvals = [approval_from_dict(a) for a in extra.get("approvals", [])]
        profiles_path = agency_file or settings.agency_profiles or EXAMPLES / "agency.yaml"
        agencies = load_profiles(profiles_path)
        registry = TemplateRegistry.load(template_dir or settings.template_dir)
        paths = write_batch_pdfs(invoices, out, registry=registry, agencies=agencies, placements=placements,
                                 approvals=approvals)
    except TemplateError as exc:
        raise click.ClickException(str(exc)) from exc
    except (ValueError, KeyError) as exc:
        raise click.ClickException(f"{invoice_json}: {exc}") from exc
    for path in paths:
        click.echo(str(path))
    click.echo(f"wrote {len(paths)} PDF(s) under {out.resolve()}", err=True)
