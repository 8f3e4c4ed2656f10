"""Local-backend speed on a given machine: TTFT and decode tokens/s of ``TransformersBackend``
with SmolLM2-135M-Instruct's architecture, on real /rag prompts.

    python -m bench.inference_device --model-dir DIR --prompts prompts.json [--weights random]

``DIR`` holds the model (or, with ``--weights random``, only its config and tokenizer: the
weights are initialised randomly, which leaves the compute per token unchanged; the end-of-text
token is suppressed so every answer has ``--max-tokens`` tokens). ``prompts.json`` is a list of
message lists (e.g. the ``prompt`` field of traces). Prints one JSON object per device.
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--prompts", type=Path, required=True)
    parser.add_argument("--weights", choices=["saved", "random"], default="saved")
    parser.add_argument("--devices", nargs="+", default=["cpu"])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()

    import torch
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM

    from llm_twin.infrastructure.llm import GenerationParams
    from llm_twin.infrastructure.llm.local import TransformersBackend

    model_dir = args.model_dir
    if args.weights == "random":
        torch.manual_seed(0)
        config = AutoConfig.from_pretrained(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = LlamaForCausalLM(config)
        model.generation_config.suppress_tokens = [tokenizer.eos_token_id]
        model_dir = Path(tempfile.mkdtemp(prefix="bench-model-"))
        model.save_pretrained(model_dir)
        tokenizer.save_pretrained(model_dir)
    prompts = json.loads(args.prompts.read_text())
    params = GenerationParams(max_new_tokens=args.max_tokens, temperature=0.0)
    for device in args.devices:
        backend = TransformersBackend(model_dir, device=device, threads=args.threads, timeout=600)
        backend.load()
        backend.complete(prompts[0], GenerationParams(max_new_tokens=4, temperature=0.0))
        runs = []
        for messages in prompts:
            started = time.perf_counter()
            stream = backend.stream(messages, params)
            first = None
            for _ in stream:
                if first is None:
                    first = time.perf_counter() - started
            total = time.perf_counter() - started
            runs.append(
                {
                    "ttft_s": first,
                    "tokens_per_s": (stream.completion_tokens - 1) / max(total - first, 1e-6),
                    "prompt_tokens": stream.prompt_tokens,
                }
            )
        ttft = sorted(run["ttft_s"] for run in runs)
        print(
            json.dumps(
                {
                    "device": device,
                    "torch_threads": torch.get_num_threads(),
                    "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
                    "weights": args.weights,
                    "prompts": len(runs),
                    "prompt_tokens_mean": round(statistics.mean(r["prompt_tokens"] for r in runs)),
                    "ttft_s_p50": round(ttft[len(ttft) // 2], 3),
                    "ttft_s_max": round(ttft[-1], 3),
                    "decode_tokens_per_s_mean": round(
                        statistics.mean(r["tokens_per_s"] for r in runs), 1
                    ),
                }
            ),
            flush=True,
        )
        backend.close()


if __name__ == "__main__":
    main()
