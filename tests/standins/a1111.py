#!/usr/bin/env python3
"""Automatic1111 (stable-diffusion-webui --api) stand-in: POST /sdapi/v1/txt2img and
/sdapi/v1/img2img (synchronous, serialized by one lock, like the real queue lock),
GET /sdapi/v1/progress, POST /sdapi/v1/interrupt and /skip, GET /sdapi/v1/sd-models,
GET/POST /sdapi/v1/options — with A1111's shapes (services.md §2): info as a JSON string,
pydantic-v1 422 lists, {error, detail, body, errors} for everything else.

Settings: step_ms (30), auth ("user:pass" to demand HTTP Basic, like --api-auth),
max_side (images are made at most this many pixels wide/high: 64).
"""

import base64
import binascii
import json
import random
import threading
import time

from standin import StandinServer, Reply, json_reply, png, serve

SAMPLERS = ["Euler", "Euler a", "DPM++ 2M", "DDIM"]
MODELS = [("v1-5-pruned-emaonly.safetensors", "6ce0161689"),
          ("sd_xl_base_1.0.safetensors", "31e35c80fc")]


def a1111_error(status, exc, detail="", errors=""):
    return json_reply({"error": exc, "detail": detail, "body": "", "errors": errors}, status)


def validation(loc, msg, kind):
    return json_reply({"detail": [{"loc": ["body", loc], "msg": msg, "type": kind}]}, 422)


class A1111(StandinServer):
    def default_settings(self):
        return {"step_ms": 30, "auth": None, "max_side": 64}

    def setup(self):
        self.gen_lock = threading.Lock()
        self.job_count = 0
        self.job_no = 0
        self.step = 0
        self.steps = 0
        self.current_task = None
        self.interrupted = False
        self.interrupts = 0
        self.completed = []
        self.options = {"sd_model_checkpoint": "%s [%s]" % MODELS[0], "samples_format": "png"}

    def state(self):
        return {"interrupts": self.interrupts, "completed": self.completed,
                "current_task": self.current_task, "job_count": self.job_count}

    def check_auth(self, handler):
        auth = self.setting("auth")
        if not auth:
            return None
        header = handler.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return json_reply({"detail": "Not authenticated"}, 401,
                              {"WWW-Authenticate": "Basic"})
        try:
            given = base64.b64decode(header[6:]).decode()
        except (binascii.Error, UnicodeDecodeError):
            given = ""
        if given != auth:
            return json_reply({"detail": "Incorrect username or password"}, 401,
                              {"WWW-Authenticate": "Basic"})
        return None

    def route(self, handler, method, path, query, raw):
        denied = self.check_auth(handler)
        if denied is not None:
            return denied
        if method == "POST":
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return json_reply({"detail": [{"loc": ["body", 0], "msg": "Expecting value",
                                               "type": "value_error.jsondecode"}]}, 422)
        if path in ("/sdapi/v1/txt2img", "/sdapi/v1/img2img") and method == "POST":
            return self.generate(path.rsplit("/", 1)[1], body)
        if path == "/sdapi/v1/progress" and method == "GET":
            with self.lock:
                if self.job_count == 0:
                    progress, eta = 0, 0
                else:
                    progress = min(1.0, 0.01 + self.job_no / max(self.job_count, 1)
                                   + (self.step / self.steps / max(self.job_count, 1)
                                      if self.steps else 0))
                    eta = round((self.steps - self.step) * self.setting("step_ms") / 1000.0, 2)
                return json_reply({
                    "progress": round(progress, 3), "eta_relative": eta,
                    "state": {"skipped": False, "interrupted": self.interrupted,
                              "stopping_generation": False,
                              "job": "scripts_txt2img" if self.job_count else "",
                              "job_count": self.job_count,
                              "job_timestamp": time.strftime("%Y%m%d%H%M%S"),
                              "job_no": self.job_no, "sampling_step": self.step,
                              "sampling_steps": self.steps},
                    "current_image": None, "textinfo": None,
                    "current_task": self.current_task})
        if path == "/sdapi/v1/interrupt" and method == "POST":
            with self.lock:
                self.interrupts += 1
                if self.job_count:
                    self.interrupted = True
            return json_reply({})
        if path == "/sdapi/v1/skip" and method == "POST":
            return json_reply(None)
        if path == "/sdapi/v1/sd-models" and method == "GET":
            return json_reply([{"title": "%s [%s]" % (n, h), "model_name": n.rsplit(".", 1)[0],
                                "hash": h, "sha256": h + "0" * 54,
                                "filename": "/models/Stable-diffusion/" + n, "config": None}
                               for n, h in MODELS])
        if path == "/sdapi/v1/options" and method == "GET":
            return json_reply(self.options)
        if path == "/sdapi/v1/options" and method == "POST":
            name = body.get("sd_model_checkpoint")
            if name is not None and not any(name in (n, "%s [%s]" % (n, h), h, n.rsplit(".", 1)[0])
                                            for n, h in MODELS):
                return a1111_error(500, "RuntimeError", "", "model '%s' not found" % name)
            self.options.update(body)
            return json_reply(None)
        return None

    def generate(self, kind, body):
        for key in ("steps", "width", "height", "batch_size", "n_iter", "seed"):
            if key in body and not (isinstance(body[key], int) and not isinstance(body[key], bool)):
                if isinstance(body[key], str) and body[key].lstrip("-").isdigit():
                    body[key] = int(body[key])
                else:
                    return validation(key, "value is not a valid integer", "type_error.integer")
        sampler = body.get("sampler_name") or body.get("sampler_index") or "Euler"
        if sampler not in SAMPLERS:
            return a1111_error(400, "HTTPException", "Sampler not found")
        if kind == "img2img":
            images = body.get("init_images")
            if not images:
                return a1111_error(404, "HTTPException", "Init image not found")
            for img in images:
                data = img.split(",", 1)[1] if img.startswith("data:") else img
                try:
                    base64.b64decode(data, validate=True)
                except (binascii.Error, ValueError):
                    return a1111_error(500, "Exception", "", "Invalid encoded image")
        steps = body.get("steps", 50)
        count = body.get("batch_size", 1) * body.get("n_iter", 1)
        side = self.setting("max_side")
        width = min(body.get("width", 512), side)
        height = min(body.get("height", 512), side)
        task = body.get("force_task_id") or "task(%016x)" % random.getrandbits(64)
        seed = body.get("seed", -1)
        if seed == -1:
            seed = random.randint(0, 2**32 - 1)
        with self.gen_lock:
            with self.lock:
                self.job_count, self.job_no, self.step, self.steps = body.get("n_iter", 1), 0, 0, steps
                self.current_task = task
                self.interrupted = False
            for i in range(steps):
                time.sleep(self.setting("step_ms") / 1000.0)
                with self.lock:
                    if self.interrupted:
                        break
                    self.step = i + 1
            with self.lock:
                interrupted = self.interrupted
                self.job_count, self.job_no, self.step, self.steps = 0, 0, 0, 0
                self.current_task = None
                self.interrupted = False
                self.completed.append({"task": task, "interrupted": interrupted})
        made = [] if interrupted else [
            base64.b64encode(png(width, height, (i * 40 % 256, 120, 200))).decode()
            for i in range(count)]
        info = {"prompt": body.get("prompt", ""), "all_prompts": [body.get("prompt", "")] * count,
                "negative_prompt": body.get("negative_prompt", ""), "seed": seed,
                "all_seeds": [seed + i for i in range(count)], "subseed": 1, "width": width,
                "height": height, "sampler_name": sampler, "cfg_scale": body.get("cfg_scale", 7.0),
                "steps": steps, "batch_size": body.get("batch_size", 1),
                "sd_model_hash": MODELS[0][1], "denoising_strength": body.get("denoising_strength"),
                "extra_generation_params": {}, "index_of_first_image": 0,
                "infotexts": ["%s\nSteps: %d, Sampler: %s, Seed: %d" % (body.get("prompt", ""),
                                                                        steps, sampler, seed + i)
                              for i in range(count)],
                "styles": [], "job_timestamp": time.strftime("%Y%m%d%H%M%S"), "clip_skip": 1}
        params = dict(body)
        params.pop("init_images", None)
        if kind == "img2img":
            params["init_images"] = None
        return json_reply({"images": made, "parameters": params, "info": json.dumps(info)})


if __name__ == "__main__":
    serve(A1111, "Automatic1111 stand-in")
