#!/usr/bin/env python3
"""Reference data for `flant5 parity`, made by the real Hugging Face stack from any T5 checkpoint directory.

usage: make_hf_reference.py MODEL_DIR GLUE_DEV_TSV OUT.safetensors [--pipeline-prompts N]

Loads MODEL_DIR with transformers (T5ForConditionalGeneration, AutoTokenizer), which is itself the check that an
exported checkpoint is loadable by Hugging Face, then writes the fixture format that `flant5 parity --reference`
reads: a batch of 8 prompts (input_ids, attention_mask, decoder_input_ids, labels) with logits_f64, loss_f64,
encoder_last_hidden_state_f64 and grad.<param> computed in float64; 16 prompts (gen_input_ids, gen_attention_mask)
with greedy_ids and beam3_ids (max_new_tokens 12, num_beams 3, early_stopping True). Prints the text2text pipeline's
answers for the first prompts so they can be compared with `flant5 generate`.
Needs: torch, transformers, sentencepiece, safetensors.
"""
import csv
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoTokenizer, T5ForConditionalGeneration, pipeline


def read_prompts(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    pairs = [(f"mnli hypothesis: {r['sentence2']} premise: {r['sentence1']}", r["gold_label"]) for r in rows
             if r["gold_label"] in ("entailment", "neutral", "contradiction")]
    return [p for p, _ in pairs], [g for _, g in pairs]


def main(argv):
    model_dir, tsv, out = argv[1], argv[2], argv[3]
    n_pipeline = int(argv[argv.index("--pipeline-prompts") + 1]) if "--pipeline-prompts" in argv else 8
    print({"torch": torch.__version__, "transformers": transformers.__version__}, flush=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    prompts, golds = read_prompts(tsv)

    model = T5ForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float64).eval()
    enc = tokenizer(prompts[:8], padding=True, return_tensors="pt")
    labels = tokenizer(golds[:8], padding=True, return_tensors="pt").input_ids
    labels[labels == tokenizer.pad_token_id] = -100
    decoder_input_ids = model._shift_right(labels)
    result = model(input_ids=enc.input_ids, attention_mask=enc.attention_mask, labels=labels,
                   decoder_input_ids=decoder_input_ids)
    result.loss.backward()
    tensors = {
        "input_ids": enc.input_ids.to(torch.int64), "attention_mask": enc.attention_mask.to(torch.int64),
        "labels": labels.to(torch.int64), "decoder_input_ids": decoder_input_ids.to(torch.int64),
        "logits_f64": result.logits.detach().contiguous(), "loss_f64": result.loss.detach().reshape(1),
        "encoder_last_hidden_state_f64": result.encoder_last_hidden_state.detach().contiguous(),
    }
    for name, p in model.named_parameters():
        if p.grad is not None:
            tensors["grad." + name] = p.grad.detach().contiguous()

    model32 = T5ForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32).eval()
    gen = tokenizer(prompts[8:24], padding=True, return_tensors="pt")
    with torch.no_grad():
        greedy = model32.generate(**gen, max_new_tokens=12, do_sample=False, num_beams=1)
        beam = model32.generate(**gen, max_new_tokens=12, do_sample=False, num_beams=3, early_stopping=True,
                                length_penalty=1.0)
    tensors.update({"gen_input_ids": gen.input_ids.to(torch.int64), "gen_attention_mask": gen.attention_mask.to(torch.int64),
                    "greedy_ids": greedy.to(torch.int64), "beam3_ids": beam.to(torch.int64)})
    save_file(tensors, out)
    print(f"wrote {out}: {len(tensors)} tensors, loss {result.loss.item():.6f}", flush=True)

    try:
        text2text = pipeline("text2text-generation", model=model32, tokenizer=tokenizer)
        answers = [text2text(p, max_new_tokens=5)[0]["generated_text"] for p in prompts[:n_pipeline]]
        how = "pipeline"
    except Exception as e:  # the task name moved between transformers versions; generate() is what it wraps
        print(f"text2text pipeline unavailable ({e}); using generate + decode", flush=True)
        batch = tokenizer(prompts[:n_pipeline], padding=True, return_tensors="pt")
        with torch.no_grad():
            ids = model32.generate(**batch, max_new_tokens=5)
        answers = tokenizer.batch_decode(ids, skip_special_tokens=True)
        how = "generate"
    for prompt, gold, answer in zip(prompts, golds, answers):
        print(f"{how}\t{gold}\t{answer}", flush=True)


if __name__ == "__main__":
    main(sys.argv)
