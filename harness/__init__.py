"""codeharness: run LLM-written code in sandboxes, record pass matrices, score routers."""
