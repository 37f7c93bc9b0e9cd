#!/usr/bin/env python3
"""ComfyUI stand-in: POST /prompt, GET /queue, POST /queue, POST /interrupt,
GET /history[/{id}], GET /view, GET /object_info[/{class}], GET /models/checkpoints,
GET /system_stats, GET /prompt — every route also under /api — with ComfyUI's shapes
(services.md §1). No WebSocket.

A queued graph runs on one executor thread, one prompt at a time: each KSampler step takes
settings["step_ms"]; SaveImage makes a PNG ("output"), PreviewImage a temp PNG,
VHS_VideoCombine an MP4 under "gifs", PreviewAny a "text" output. Node "RaiseError" fails
the run with an execution_error; "OOMError" with a CUDA out-of-memory one.

Settings: step_ms (20), models (checkpoint names), combo_v3 (spell combos the V3 way),
forget (drop queued prompts without history, as a restarted ComfyUI would).
"""

import json
import threading
import time
import uuid

from standin import StandinServer, Reply, json_reply, png, mp4, content_type_for, serve

MODELS = ["v1-5-pruned-emaonly.safetensors", "sd_xl_base_1.0.safetensors"]
OUTPUT_CLASSES = {"SaveImage", "PreviewImage", "VHS_VideoCombine", "PreviewAny"}
KNOWN = {"CheckpointLoaderSimple", "CLIPTextEncode", "EmptyLatentImage", "KSampler",
         "VAEDecode", "RaiseError", "OOMError"} | OUTPUT_CLASSES


class ComfyUI(StandinServer):
    def default_settings(self):
        return {"step_ms": 20, "models": list(MODELS), "combo_v3": False, "forget": False}

    def setup(self):
        self.pending = []  # [number, id, graph, extra, outputs]
        self.running = None
        self.history = {}
        self.files = {}  # (type, subfolder, filename) -> bytes
        self.counter = 0
        self.interrupt_flag = threading.Event()
        self.wake = threading.Condition(self.lock)
        self.file_counter = 0
        self.interrupts = []
        threading.Thread(target=self.executor, daemon=True).start()

    def state(self):
        return {"pending": [p[1] for p in self.pending],
                "running": self.running[1] if self.running else None,
                "history": {k: v["status"]["status_str"] for k, v in self.history.items()},
                "interrupts": self.interrupts}

    # ---- validation (server.py post_prompt / execution.validate_prompt) ----
    def validate(self, graph):
        def error(kind, message, details="", node_errors=None):
            return json_reply({"error": {"type": kind, "message": message, "details": details,
                                         "extra_info": {}},
                               "node_errors": node_errors or {}}, 400)

        if not isinstance(graph, dict):
            return error("invalid_prompt", "Prompt is not an object")
        for node_id, node in graph.items():
            if not isinstance(node, dict) or "class_type" not in node:
                return error("invalid_prompt",
                             "Cannot execute because a node is missing the class_type property.",
                             "Node ID '#%s'" % node_id)
            if node["class_type"] not in KNOWN:
                return error("invalid_prompt", "Cannot execute because node %s does not exist."
                             % node["class_type"], "Node ID '#%s'" % node_id)
        outputs = [n for n, v in graph.items() if v["class_type"] in OUTPUT_CLASSES]
        if not outputs:
            return error("prompt_no_outputs", "Prompt has no outputs")
        node_errors = {}
        models = self.setting("models")
        for node_id, node in graph.items():
            if node["class_type"] == "CheckpointLoaderSimple":
                name = node.get("inputs", {}).get("ckpt_name")
                if name not in models:
                    node_errors[node_id] = {
                        "errors": [{"type": "value_not_in_list", "message": "Value not in list",
                                    "details": "ckpt_name: '%s' not in %s" % (name, models),
                                    "extra_info": {"input_name": "ckpt_name",
                                                   "input_config": None,
                                                   "received_value": name}}],
                        "dependent_outputs": outputs, "class_type": "CheckpointLoaderSimple"}
        if node_errors:
            lines = ["%s: %s" % (e["message"], e["details"])
                     for v in node_errors.values() for e in v["errors"]]
            return error("prompt_outputs_failed_validation", "Prompt outputs failed validation",
                         "\n".join(lines), node_errors)
        return None

    # ---- execution ----
    def executor(self):
        while True:
            with self.wake:
                while not self.pending:
                    self.wake.wait(0.5)
                self.pending.sort(key=lambda p: p[0])
                item = self.pending.pop(0)
                self.running = item
                self.interrupt_flag.clear()
            self.execute(item)
            with self.lock:
                self.running = None

    def new_file(self, kind, prefix, ext, data):
        with self.lock:
            self.file_counter += 1
            name = "%s_%05d_.%s" % (prefix, self.file_counter, ext)
            self.files[(kind, "", name)] = data
        return {"filename": name, "subfolder": "", "type": kind}

    def execute(self, item):
        number, pid, graph, extra, output_ids = item[:5]
        ts = lambda: int(time.time() * 1000)
        messages = [["execution_start", {"prompt_id": pid, "timestamp": ts()}],
                    ["execution_cached", {"nodes": [], "prompt_id": pid, "timestamp": ts()}]]
        outputs = {}
        status = "success"
        try:
            for node_id in sorted(graph, key=lambda k: int(k) if k.isdigit() else 0):
                node = graph[node_id]
                cls = node["class_type"]
                inputs = node.get("inputs", {})
                if cls == "KSampler":
                    steps = int(inputs.get("steps", 20))
                    for _ in range(steps):
                        if self.interrupt_flag.wait(self.setting("step_ms") / 1000.0):
                            raise InterruptedError(node_id, cls)
                elif cls in ("RaiseError", "OOMError"):
                    oom = cls == "OOMError"
                    messages.append(["execution_error", {
                        "prompt_id": pid, "node_id": node_id, "node_type": cls, "executed": [],
                        "exception_message": "Allocation on device" if oom
                        else inputs.get("message", "something broke"),
                        "exception_type": "torch.OutOfMemoryError" if oom else "RuntimeError",
                        "traceback": ["Traceback (most recent call last):\n"],
                        "current_inputs": {}, "current_outputs": [], "timestamp": ts()}])
                    status = "error"
                    break
                elif cls == "SaveImage":
                    w = int(inputs.get("width", 16))
                    outputs[node_id] = {"images": [self.new_file("output", inputs.get(
                        "filename_prefix", "ComfyUI"), "png", png(w, w))]}
                elif cls == "PreviewImage":
                    outputs[node_id] = {"images": [self.new_file("temp", "ComfyUI_temp", "png",
                                                                 png(8, 8))]}
                elif cls == "VHS_VideoCombine":
                    f = self.new_file("output", "AnimateDiff", "mp4", mp4())
                    f.update({"format": "video/h264-mp4", "frame_rate": 8.0,
                              "workflow": f["filename"].replace(".mp4", ".png"),
                              "fullpath": "/opt/ComfyUI/output/" + f["filename"]})
                    outputs[node_id] = {"gifs": [f]}
                elif cls == "PreviewAny":
                    outputs[node_id] = {"text": [str(inputs.get("source", "hello"))]}
        except InterruptedError as exc:
            messages.append(["execution_interrupted", {
                "prompt_id": pid, "node_id": exc.args[0], "node_type": exc.args[1],
                "executed": [], "timestamp": ts()}])
            status = "error"
        if status == "success":
            messages.append(["execution_success", {"prompt_id": pid, "timestamp": ts()}])
        with self.lock:
            self.history[pid] = {
                "prompt": [number, pid, graph, extra, output_ids],
                "outputs": outputs if status == "success" else {},
                "status": {"status_str": status, "completed": status == "success",
                           "messages": messages},
                "meta": {n: {"node_id": n, "display_node": n, "parent_node": None,
                             "real_node_id": n} for n in outputs}}

    # ---- routes ----
    def route(self, handler, method, path, query, raw):
        if path.startswith("/api/"):
            path = path[4:]
        if method == "POST":
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return Reply(500, "500 Internal Server Error")
        if path == "/prompt" and method == "POST":
            if "prompt" not in body:
                return json_reply({"error": {"type": "no_prompt", "message": "No prompt provided",
                                             "details": "No prompt provided", "extra_info": {}},
                                   "node_errors": {}}, 400)
            bad = self.validate(body["prompt"])
            if bad is not None:
                return bad
            graph = body["prompt"]
            extra = dict(body.get("extra_data") or {})
            if "client_id" in body:
                extra["client_id"] = body["client_id"]
            with self.wake:
                pid = body.get("prompt_id") or str(uuid.uuid4())
                number = self.counter
                self.counter += 1
                outs = [n for n, v in graph.items() if v["class_type"] in OUTPUT_CLASSES]
                if not self.setting("forget"):
                    self.pending.append([number, pid, graph, extra, outs])
                    self.wake.notify()
            return json_reply({"prompt_id": pid, "number": number, "node_errors": {}})
        if path == "/prompt" and method == "GET":
            with self.lock:
                n = len(self.pending) + (1 if self.running else 0)
            return json_reply({"exec_info": {"queue_remaining": n}})
        if path == "/queue" and method == "GET":
            with self.lock:
                return json_reply({"queue_running": [self.running] if self.running else [],
                                   "queue_pending": list(self.pending)})
        if path == "/queue" and method == "POST":
            with self.lock:
                if body.get("clear"):
                    self.pending = []
                for pid in body.get("delete", []):
                    self.pending = [p for p in self.pending if p[1] != pid]
            return Reply(200, b"")
        if path == "/interrupt" and method == "POST":
            with self.lock:
                target = body.get("prompt_id")
                self.interrupts.append(target)
                if self.running and (target is None or target == self.running[1]):
                    self.interrupt_flag.set()
            return Reply(200, b"")
        if path == "/history" and method == "GET":
            with self.lock:
                return json_reply(dict(self.history))
        if path.startswith("/history/") and method == "GET":
            pid = path[len("/history/"):]
            with self.lock:
                entry = self.history.get(pid)
            return json_reply({pid: entry} if entry else {})
        if path == "/view" and method == "GET":
            filename = query.get("filename", [""])[0]
            subfolder = query.get("subfolder", [""])[0]
            kind = query.get("type", ["output"])[0]
            if not filename:
                return Reply(404, b"")
            if filename.startswith("/") or ".." in filename:
                return Reply(400, b"")
            if kind not in ("output", "input", "temp"):
                return Reply(400, b"")
            with self.lock:
                data = self.files.get((kind, subfolder, filename))
            if data is None:
                return Reply(404, b"")
            return Reply(200, data, {"Content-Disposition": 'filename="%s"' % filename},
                         content_type_for(filename))
        if path.startswith("/object_info") and method == "GET":
            info = self.object_info()
            if path == "/object_info":
                return json_reply(info)
            cls = path[len("/object_info/"):]
            return json_reply({cls: info[cls]} if cls in info else {})
        if path == "/models/checkpoints" and method == "GET":
            return json_reply(self.setting("models"))
        if path.startswith("/models/") and method == "GET":
            return Reply(404, b"")
        if path == "/system_stats" and method == "GET":
            return json_reply({
                "system": {"os": "posix", "ram_total": 68719476736, "ram_free": 60000000000,
                           "comfyui_version": "0.3.64", "required_frontend_version": "1.27.10",
                           "python_version": "3.11.7", "pytorch_version": "2.8.0",
                           "embedded_python": False, "argv": ["main.py"]},
                "devices": [{"name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
                             "type": "cuda", "index": 0, "vram_total": 25757220864,
                             "vram_free": 24000000000, "torch_vram_total": 0,
                             "torch_vram_free": 0}]})
        return None

    def object_info(self):
        models = self.setting("models")
        combo = (["COMBO", {"options": models, "tooltip": "The checkpoint to load."}]
                 if self.setting("combo_v3")
                 else [models, {"tooltip": "The name of the checkpoint (model) to load."}])
        info = {"CheckpointLoaderSimple": {
            "input": {"required": {"ckpt_name": combo}}, "input_order": {"required": ["ckpt_name"]},
            "output": ["MODEL", "CLIP", "VAE"], "output_is_list": [False, False, False],
            "output_name": ["MODEL", "CLIP", "VAE"], "name": "CheckpointLoaderSimple",
            "display_name": "Load Checkpoint", "description": "", "python_module": "nodes",
            "category": "loaders", "output_node": False}}
        for cls in sorted(KNOWN - {"CheckpointLoaderSimple"}):
            info[cls] = {"input": {"required": {}}, "input_order": {"required": []},
                         "output": [], "output_is_list": [], "output_name": [], "name": cls,
                         "display_name": cls, "description": "", "python_module": "nodes",
                         "category": "test", "output_node": cls in OUTPUT_CLASSES}
        return info


if __name__ == "__main__":
    serve(ComfyUI, "ComfyUI stand-in")
