"""Upload a prepared dataset, with its card, to a private Hugging Face dataset repository."""

from __future__ import annotations

from pathlib import Path

import datasets
import huggingface_hub
from huggingface_hub.errors import HfHubHTTPError

from ldct_bench.errors import UserError


def check_can_push() -> None:
    """Fail before any work when an upload cannot succeed: offline mode, or no token."""
    if huggingface_hub.is_offline_mode():
        raise UserError("--push-to-hub needs the network but HF_HUB_OFFLINE is set; unset it, or prepare "
                        "without --push-to-hub")
    if huggingface_hub.get_token() is None:
        raise UserError("--push-to-hub needs a Hugging Face token with write access: run `hf auth login` or "
                        "set HF_TOKEN, then run prepare again")


def push(out: Path, repo_id: str) -> str:
    """Card first, then the data (push_to_hub keeps the card's text and adds its own metadata); private."""
    check_can_push()
    data = datasets.load_from_disk(str(out))
    api = huggingface_hub.HfApi()
    try:
        url = api.create_repo(repo_id, repo_type="dataset", private=True, exist_ok=True)
        api.upload_file(path_or_fileobj=str(Path(out) / "README.md"), path_in_repo="README.md", repo_id=repo_id,
                        repo_type="dataset", commit_message="Dataset card from ldct-bench prepare")
        data.push_to_hub(repo_id, private=True, commit_message="LDCT-IQA prepared by ldct-bench")
    except (HfHubHTTPError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise UserError(f"pushing to {repo_id} failed ({first}); the prepared copy in {out} is complete, so "
                        f"repeat only the upload: `ldct-bench prepare --out {out} --push-to-hub {repo_id}`") from None
    return str(url)
