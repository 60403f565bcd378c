"""The `assistant` command: index, ask, serve. Thin: the work is done by `Assistant`."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError

from assistant.config import Settings
from assistant.errors import AssistantError, BadQuestion
from assistant.evaluation.data import ABSTENTION_QUESTIONS, REPORTED_SEED
from assistant.serving.assistant import Assistant, answer_to_dict
from assistant.types import Answer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Ask questions about French and English documents; answers quote the documents with exact citations.",
)

CorpusOpt = Annotated[
    Path | None, typer.Option("--corpus", help="Documents folder [env ASSISTANT_CORPUS; default corpus/]")
]
IndexOpt = Annotated[Path | None, typer.Option("--index", help="Index folder [env ASSISTANT_INDEX; default index/]")]


def _fail(text: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {text}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        _fail(f"invalid settings ({problems}); check the ASSISTANT_* environment variables")


def _print_answer(answer: Answer) -> None:
    typer.echo(answer.message)
    if answer.answer:
        typer.secho(f"\n  {answer.answer.text}  [{answer.answer.citation + 1}]\n", bold=True)
    for c in answer.citations:
        typer.secho(
            f"[{c.rank}] {c.title} — {c.source} ({c.language}), characters {c.start}-{c.end}, score {c.score:.3f}",
            fg=typer.colors.CYAN,
        )
        typer.echo("    " + " ".join(c.text.split()))
        typer.echo("")


@app.command()
def index(
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Re-embed everything instead of only what changed.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would change; touch nothing.")] = False,
) -> None:
    """Bring the index up to date with the documents: only new or changed text is embedded,
    and the new version replaces the old one in one atomic step."""
    settings = _settings(corpus=corpus, index=index)
    if not settings.corpus.is_dir():
        _fail(f"the corpus folder {settings.corpus}/ does not exist")
    assistant = Assistant(settings)
    try:
        if dry_run:
            plan = assistant.plan()
            for label, ids in (("add", plan.added), ("update", plan.updated), ("remove", plan.removed)):
                for doc_id in ids:
                    typer.echo(f"would {label} {doc_id}")
            for item in plan.skipped:
                typer.secho(f"would skip {item.source}: {item.reason}", err=True, fg=typer.colors.YELLOW)
            typer.echo(plan.summary() + ("" if plan.changes else " — the index is up to date"))
            return
        report = assistant.build(progress=sys.stderr.isatty(), full=full)
    except AssistantError as exc:
        _fail(str(exc))
    for item in report.skipped:
        typer.secho(f"skipped {item.source}: {item.reason}", err=True, fg=typer.colors.YELLOW)
    typer.echo(report.plan.summary())
    if not report.changed:
        typer.echo(f"the index in {assistant.index_store.location} is up to date (version {report.version})")
        return
    typer.echo(report.passage_summary())
    typer.echo(report.kept_summary(settings.kept_warning))
    typer.echo(
        f"indexed {report.documents} documents, {report.passages} passages, {report.sentences} sentences "
        f"({report.embedded} texts embedded, {report.reused} reused) in {report.seconds:.1f} s "
        f"-> {assistant.index_store.location} (version {report.version})"
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in French or English.")],
    index: IndexOpt = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=20, help="Number of passages to cite.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Answer a question with cited passages."""
    settings = _settings(index=index)
    try:
        answer = Assistant(settings).answer(question, top_k=top_k)
    except BadQuestion as exc:
        _fail(str(exc), code=2)
    except AssistantError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(answer_to_dict(answer), ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)


@app.command()
def serve(
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [env ASSISTANT_HOST; default 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [env ASSISTANT_PORT; default 8000]")] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Rebuild when files under the corpus change.")] = False,
) -> None:
    """Serve the chat page and the HTTP API; builds the index first if there is none."""
    # the server's modules load only for `serve`: `ask` and `index` start faster without them
    from assistant.serving.api.server import run_server

    settings = _settings(corpus=corpus, index=index, host=host, port=port)
    assistant = Assistant(settings)
    try:
        if not assistant.has_index():
            if not settings.corpus.is_dir():
                where = assistant.index_store.location
                _fail(f"no index in {where} and no corpus folder {settings.corpus}/ to build it from")
            typer.echo(f"no index yet: building it from {settings.corpus}/ ...")
            report = assistant.build(progress=sys.stderr.isatty())
            typer.echo(f"indexed {report.documents} documents, {report.passages} passages")
        assistant.warm()
    except AssistantError as exc:
        _fail(str(exc))
    shown = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0", "::") else settings.host

    def ready(port: int) -> None:
        typer.secho(f"assistant ready: open http://{shown}:{port}/  (API docs at /docs; Ctrl+C to stop)", bold=True)
        if watch:
            typer.echo(f"watching {settings.corpus}/ for changes")

    run_server(settings, assistant, watch, ready)


@app.command(name="eval")
def evaluate(
    eval_dir: Annotated[Path, typer.Option("--eval-dir", help="PIAF/XQuAD files")] = Path("../shared/eval"),
    seed: Annotated[int, typer.Option(help="Seed of the question samples")] = REPORTED_SEED,
    scale: Annotated[float, typer.Option(help="Fraction of the standard sample sizes (500/400/300/300)")] = 1.0,
    abstention: Annotated[int, typer.Option(help="Questions of the abstention benchmark")] = ABSTENTION_QUESTIONS,
    cache: Annotated[
        Path | None,
        typer.Option(help="Embedding cache [default: model cache/eval-embeddings-<backend>.sqlite]"),
    ] = None,
    output: Annotated[Path | None, typer.Option("--json", help="Also write the figures as JSON here")] = None,
    realdocs: Annotated[
        list[Path] | None,
        typer.Option(
            "--realdocs",
            help="Instead: real collections (DIR/corpus and DIR/questions.jsonl, as ../shared/realdocs), "
            "each indexed fresh and asked over HTTP; repeat the option for several, or give them after it",
        ),
    ] = None,
    more: Annotated[
        list[Path] | None, typer.Argument(help="More collections, with --realdocs", show_default=False)
    ] = None,
    pdf: Annotated[
        Path | None, typer.Option("--pdf", help="With --realdocs: index this one file instead of DIR/corpus")
    ] = None,
) -> None:
    """Run the retrieval and abstention benchmark through the answer path; print a table per slice."""
    # loaded for this command only, like the server's modules for `serve`
    from assistant.evaluation.benchmark import format_report, run_eval
    from assistant.evaluation.data import SLICES

    if realdocs:
        _evaluate_realdocs([*realdocs, *(more or [])], pdf, output)
        return
    if more:
        _fail(f"unexpected arguments {[str(m) for m in more]}: collections go with --realdocs")
    if not (eval_dir / "piaf-v1.0.json").is_file():
        _fail(f"no evaluation data in {eval_dir}/ (expected piaf-v1.0.json and xquad.*.json)")
    settings = _settings()
    sizes = {name: max(1, round(n * scale)) for name, n in SLICES.items()}
    try:
        embedder = Assistant(settings).embedder
        report = run_eval(
            settings,
            embedder,
            eval_dir,
            # one cache per backend: each backend's own passage vectors are what is measured
            cache or settings.model_cache / f"eval-embeddings-{settings.backend}.sqlite",
            seed=seed,
            sizes=sizes,
            abstention_questions=max(2, round(abstention * scale)),
            progress=sys.stderr.isatty(),
        )
    except AssistantError as exc:
        _fail(str(exc))
    typer.echo(format_report(report))
    if output:
        output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _evaluate_realdocs(folders: list[Path], pdf: Path | None, output: Path | None) -> None:
    from assistant.evaluation.realdocs import collection_roles, format_collections, format_realdocs, run_realdocs

    for folder in folders:
        if not (folder / "questions.jsonl").is_file() or (pdf is None and not (folder / "corpus").is_dir()):
            _fail(f"{folder}/ should hold questions.jsonl and corpus/ (the format of ../shared/realdocs)")
    if pdf is not None and (len(folders) > 1 or not pdf.is_file()):
        _fail(f"no file {pdf}" if not pdf.is_file() else "--pdf goes with one collection")
    settings = _settings()
    roles = {f.name: role for f, role in collection_roles(folders).items()}
    reports: dict[str, dict[str, object]] = {}
    try:
        embedder = Assistant(settings).embedder
        for folder in folders:
            report = run_realdocs(settings, embedder, folder, pdf)
            report["role"] = roles[folder.name]
            reports[folder.name] = report
            typer.echo(f"== {folder.name} ({roles[folder.name]})")
            typer.echo(format_realdocs(report) + "\n")
    except AssistantError as exc:
        _fail(str(exc))
    if len(reports) > 1:
        typer.echo(format_collections(reports, roles))
    if output:
        data = next(iter(reports.values())) if len(reports) == 1 else reports
        output.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("assistant.models.runtime").setLevel(logging.INFO)  # say why the first start takes a while
    app()
