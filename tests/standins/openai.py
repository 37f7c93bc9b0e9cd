#!/usr/bin/env python3
"""OpenAI API stand-in: POST /v1/chat/completions, POST /v1/images/generations, GET /v1/models
and the image files it hands out by URL (GET /files/…) — with OpenAI's shapes (services.md
§4): the four-key error envelope, rate-limit headers on every answer, 429 with Retry-After.

Chat answers "Echo: <last user message>" (cut to max_tokens words, finish_reason "length"),
with usage counted in words. Images are small PNGs; dall-e-* honour response_format (url by
default), gpt-image-* always answer base64 and add usage.

Settings: api_key ("sk-test"), delay_ms (0: a pause before answering generations).
Presets (fault action "preset"): rate_limit, quota, server_error, overloaded.
"""

import base64
import json
import time
import uuid

from standin import StandinServer, Reply, json_reply, png, serve

CHAT_MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o4-mini"]
IMAGE_MODELS = ["dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini"]

RATE_HEADERS = {"x-ratelimit-limit-requests": "60", "x-ratelimit-limit-tokens": "150000",
                "x-ratelimit-remaining-requests": "59", "x-ratelimit-remaining-tokens": "149984",
                "x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"}


def error(status, message, kind="invalid_request_error", param=None, code=None, headers=None):
    h = dict(RATE_HEADERS)
    h["x-request-id"] = "req_" + uuid.uuid4().hex
    h.update(headers or {})
    return json_reply({"error": {"message": message, "type": kind, "param": param, "code": code}},
                      status, h)


def ok(obj):
    h = dict(RATE_HEADERS)
    h.update({"x-request-id": "req_" + uuid.uuid4().hex, "openai-processing-ms": "42",
              "openai-version": "2020-10-01"})
    return json_reply(obj, 200, h)


def mask(key):
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "***"


class OpenAI(StandinServer):
    def default_settings(self):
        return {"api_key": "sk-test", "delay_ms": 0}

    def setup(self):
        self.files = {}

    def preset(self, name):
        if name == "rate_limit":
            return error(429, "Rate limit reached for gpt-4o-mini in organization org-test on "
                         "requests per min (RPM): Limit 60, Used 60, Requested 1. Please try "
                         "again in 2s.", "requests", None, "rate_limit_exceeded",
                         {"Retry-After": "2", "x-ratelimit-remaining-requests": "0"})
        if name == "quota":
            return error(429, "You exceeded your current quota, please check your plan and "
                         "billing details.", "insufficient_quota", None, "insufficient_quota")
        if name == "server_error":
            return error(500, "The server had an error while processing your request. Sorry "
                         "about that!", "server_error")
        if name == "overloaded":
            return error(503, "The engine is currently overloaded, please try again later",
                         "server_error")
        return None

    def authorize(self, handler):
        header = handler.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return error(401, "You didn't provide an API key. You need to provide your API key "
                         "in an Authorization header using Bearer auth (i.e. Authorization: "
                         "Bearer YOUR_KEY).")
        key = header[7:].strip()
        if key != self.setting("api_key"):
            return error(401, "Incorrect API key provided: %s. You can find your API key at "
                         "https://platform.openai.com/account/api-keys." % mask(key),
                         code="invalid_api_key")
        return None

    def route(self, handler, method, path, query, raw):
        if path.startswith("/files/") and method == "GET":
            data = self.files.get(path[len("/files/"):])
            if data is None:
                return Reply(404, "BlobNotFound")
            return Reply(200, data, {}, "image/png")
        if not path.startswith("/v1/"):
            return None
        denied = self.authorize(handler)
        if denied is not None:
            return denied
        if method == "GET" and path == "/v1/models":
            return ok({"object": "list", "data": [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "system"}
                for m in CHAT_MODELS + IMAGE_MODELS]})
        if method != "POST":
            return error(404, "Invalid URL (%s %s)" % (method, path))
        try:
            body = json.loads(raw)
        except ValueError:
            return error(400, "We could not parse the JSON body of your request.")
        if self.setting("delay_ms"):
            time.sleep(self.setting("delay_ms") / 1000.0)
        if path == "/v1/chat/completions":
            return self.chat(body)
        if path == "/v1/images/generations":
            return self.images(body)
        return error(404, "Invalid URL (%s %s)" % (method, path))

    def chat(self, body):
        model = body.get("model")
        if not model:
            return error(400, "you must provide a model parameter")
        messages = body.get("messages")
        if messages is None:
            return error(400, "Missing required parameter: 'messages'.", param="messages",
                         code="missing_required_parameter")
        if not isinstance(messages, list) or not messages:
            return error(400, "Invalid 'messages': empty array. Expected an array with minimum "
                         "length 1, but got an empty array instead.", param="messages",
                         code="empty_array")
        if model not in CHAT_MODELS:
            return error(404, "The model `%s` does not exist or you do not have access to it."
                         % model, code="model_not_found")
        t = body.get("temperature", 1)
        if not isinstance(t, (int, float)) or t < 0 or t > 2:
            return error(400, "Invalid 'temperature': decimal above maximum value. Expected a "
                         "value <= 2, but got %s instead." % t, param="temperature",
                         code="decimal_above_max_value")
        if "max_tokens" in body and model.startswith("o"):
            return error(400, "Unsupported parameter: 'max_tokens' is not supported with this "
                         "model. Use 'max_completion_tokens' instead.", param="max_tokens",
                         code="unsupported_parameter")
        last = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "")
        words = ("Echo: %s" % last).split()
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if limit is not None and len(words) > limit:
            words, finish = words[:limit], "length"
        prompt_tokens = sum(len(str(m.get("content", "")).split()) + 3 for m in messages)
        n = body.get("n", 1)
        return ok({
            "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion",
            "created": int(time.time()), "model": model + "-2024-07-18",
            "choices": [{"index": i, "message": {"role": "assistant", "content": " ".join(words),
                                                 "refusal": None, "annotations": []},
                         "logprobs": None, "finish_reason": finish} for i in range(n)],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(words) * n,
                      "total_tokens": prompt_tokens + len(words) * n,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                                    "accepted_prediction_tokens": 0,
                                                    "rejected_prediction_tokens": 0}},
            "service_tier": "default", "system_fingerprint": "fp_standin"})

    def images(self, body):
        prompt = body.get("prompt")
        if not prompt:
            return error(400, "Missing required parameter: 'prompt'.", param="prompt",
                         code="missing_required_parameter")
        model = body.get("model", "dall-e-2")
        if model not in IMAGE_MODELS:
            return error(404, "The model `%s` does not exist." % model, code="model_not_found")
        gpt = model.startswith("gpt-image")
        fmt = body.get("response_format")
        if gpt and fmt is not None:
            return error(400, "Unknown parameter: 'response_format'.", param="response_format",
                         code="unknown_parameter")
        fmt = "b64_json" if gpt else (fmt or "url")
        n = body.get("n", 1)
        if model == "dall-e-3" and n != 1:
            return error(400, "You must provide n=1 for this model.", param="n")
        data = []
        for i in range(n):
            img = png(16, 16, (30 * i % 256, 200, 90))
            item = {}
            if fmt == "b64_json":
                item["b64_json"] = base64.b64encode(img).decode()
            else:
                name = "img-%s.png" % uuid.uuid4().hex[:12]
                with self.lock:
                    self.files[name] = img
                item["url"] = "%s/files/%s?se=2025-01-01&sig=abc" % (self.base_url, name)
            if model == "dall-e-3":
                item["revised_prompt"] = "A detailed rendering of " + prompt
            data.append(item)
        out = {"created": int(time.time()), "data": data}
        if gpt:
            out.update({"usage": {"input_tokens": 50, "output_tokens": 4160 * n,
                                  "total_tokens": 50 + 4160 * n,
                                  "input_tokens_details": {"text_tokens": 50, "image_tokens": 0}},
                        "size": body.get("size", "1024x1024"), "quality": "medium",
                        "background": "opaque", "output_format": body.get("output_format", "png")})
        return ok(out)


if __name__ == "__main__":
    serve(OpenAI, "OpenAI API stand-in")
