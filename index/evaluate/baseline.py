"""The plain llama-index pipeline the eval measures citebot against, in the same run.

Default settings throughout: SimpleDirectoryReader over the corpus folder, a
VectorStoreIndex with its default chunking (SentenceSplitter, 1024 tokens), the same
embedding model, top-2 retrieval. With no LLM, what that pipeline gives a reader is
its source nodes, so its answer is the two retrieved passages, each cited; it never
says "not found".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from index.embed.embedder import bundled_model_path
from index.embed.offline import stay_offline
from index.schema import Answer, Citation

TOP_K = 2


def baseline_asker(corpus_dir: Path, model: str = "") -> Callable[[str], tuple[Answer, list[str]]]:
    """Index the corpus the default llama-index way; returns ask(question) -> (answer, ranked doc ids)."""
    stay_offline()
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    embed_model = HuggingFaceEmbedding(model_name=model or bundled_model_path())
    documents = SimpleDirectoryReader(str(corpus_dir), recursive=True).load_data(show_progress=False)
    index = VectorStoreIndex.from_documents(documents, embed_model=embed_model, show_progress=False)
    retriever = index.as_retriever(similarity_top_k=TOP_K)
    root = corpus_dir.resolve()

    def ask(question: str) -> tuple[Answer, list[str]]:
        nodes = retriever.retrieve(question)
        doc_ids = [Path(n.node.metadata["file_path"]).resolve().relative_to(root).as_posix() for n in nodes]
        citations = tuple(
            Citation(n=i, doc_id=doc_id, title=node.node.metadata.get("file_name", doc_id), date=None, source=None,
                     quote=node.node.get_content(), score=round(float(node.score or 0.0), 4))
            for i, (node, doc_id) in enumerate(zip(nodes, doc_ids), 1)
        )
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
        return Answer(question=question, answer=text, found=True, citations=citations), doc_ids

    return ask
