#!/usr/bin/env python3
"""ComfyDeploy API stand-in (services.md §3): v2 POST /api/run/deployment/queue,
GET /api/run/{run_id}, POST /api/run/{run_id}/cancel, and the legacy v1 POST /api/run and
GET /api/run?run_id= (v1 shapes when settings["v1"] is true, else v2's hidden twins). Output
files are served without auth from /files/{run_id}/{name}, as storage URLs are.

A run moves with time: not-started, queued, started, running (progress 0-1, live_status
"Executing <node>") for `steps` steps, uploading, then success — each phase lasting step_ms.
Inputs steer it: {"fail": true} ends in "failed", {"video": true} adds an MP4 under "gifs",
{"text": "..."} adds a text output.

Settings: api_key ("cd-test-key"), step_ms (40), steps (5), v1 (false).
"""

import json
import re
import threading
import time
import uuid

from standin import StandinServer, Reply, json_reply, png, mp4, serve

DEPLOYMENTS = {"15e79589-12c9-453c-a41a-348fdd7de957", "2a3c9f1e-8b7d-4c5e-9f10-112233445566"}
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                     r"[0-9a-fA-F]{12}$")
TERMINAL = ("success", "failed", "timeout", "cancelled")


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class ComfyDeploy(StandinServer):
    def default_settings(self):
        return {"api_key": "cd-test-key", "step_ms": 40, "steps": 5, "v1": False}

    def setup(self):
        self.runs = {}
        self.files = {}
        self.cancels = []

    def state(self):
        return {"runs": {k: self.status_of(v)[0] for k, v in self.runs.items()},
                "cancels": self.cancels}

    def authorize(self, handler, v1):
        header = handler.headers.get("Authorization", "")
        key = header[7:].strip() if header.startswith("Bearer ") else ""
        if key == self.setting("api_key"):
            return None
        if v1:
            return Reply(401, "Invalid or expired token", {}, "text/plain")
        return json_reply({"detail": "Invalid or missing token" if not key
                           else "Invalid or expired token"}, 401)

    def status_of(self, run):
        if run.get("final"):
            return run["final"], 1.0 if run["final"] == "success" else run.get("progress", 0)
        steps = self.setting("steps")
        t = (time.time() - run["created"]) * 1000.0 / self.setting("step_ms")
        if t < 1:
            return "not-started", 0
        if t < 2:
            return "queued", 0
        if t < 3:
            return "started", 0
        if t < 3 + steps:
            return "running", round((t - 3) / steps, 2)
        if t < 4 + steps:
            return "uploading", 1.0
        run["final"] = "failed" if run["inputs"].get("fail") else "success"
        if run["final"] == "success":
            self.make_outputs(run)
        return run["final"], 1.0

    def make_outputs(self, run):
        rid = run["id"]
        base = self.base_url

        def media(name, data):
            self.files["%s/%s" % (rid, name)] = data
            return {"url": "%s/files/%s/%s" % (base, rid, name), "type": "output",
                    "filename": name, "subfolder": "", "is_public": True, "upload_duration": 0.1}

        outs = [{"id": str(uuid.uuid4()), "run_id": rid, "output_id": None,
                 "node_meta": {"node_id": "9", "node_class": "SaveImage"},
                 "created_at": now_iso(), "updated_at": now_iso(),
                 "data": {"images": [media("ComfyUI_00001_.png", png(12, 12))]}}]
        if run["inputs"].get("video"):
            item = media("AnimateDiff_00001.mp4", mp4())
            item.update({"format": "video/h264-mp4", "frame_rate": 8.0})
            outs.append({"id": str(uuid.uuid4()), "run_id": rid, "output_id": None,
                         "node_meta": {"node_id": "12", "node_class": "VHS_VideoCombine"},
                         "created_at": now_iso(), "updated_at": now_iso(),
                         "data": {"gifs": [item]}})
        if "text" in run["inputs"]:
            outs.append({"id": str(uuid.uuid4()), "run_id": rid, "output_id": None,
                         "node_meta": {"node_id": "15", "node_class": "ComfyDeployStdOutputText"},
                         "created_at": now_iso(), "updated_at": now_iso(),
                         "data": {"text": [str(run["inputs"]["text"])]}})
        run["outputs"] = outs

    def run_object(self, run, v1):
        status, progress = self.status_of(run)
        if v1:
            return {"id": run["id"], "workflow_version_id": str(uuid.UUID(int=1)),
                    "workflow_inputs": run["inputs"], "workflow_id": str(uuid.UUID(int=2)),
                    "machine_id": str(uuid.UUID(int=3)), "origin": "api", "status": status,
                    "ended_at": now_iso() if status in TERMINAL else None,
                    "created_at": now_iso(), "started_at": now_iso(),
                    "outputs": [{"data": o["data"]} for o in run.get("outputs", [])]
                    if status == "success" else []}
        live = None
        if status == "running":
            live = "Executing KSampler"
        elif status == "uploading":
            live = "Uploading outputs"
        return {"id": run["id"], "workflow_version_id": str(uuid.UUID(int=1)),
                "workflow_inputs": run["inputs"], "workflow_id": str(uuid.UUID(int=2)),
                "machine_id": str(uuid.UUID(int=3)), "origin": "api", "status": status,
                "live_status": live, "progress": progress, "created_at": now_iso(),
                "updated_at": now_iso(), "queued_at": now_iso(), "started_at": now_iso(),
                "ended_at": now_iso() if status in TERMINAL else None,
                "gpu_event_id": None, "gpu": run.get("gpu", "A10G"), "machine_version": None,
                "machine_type": "comfy-deploy-serverless", "modal_function_call_id": "fc-01",
                "user_id": "user_1", "org_id": None, "is_realtime": False,
                "webhook": None, "webhook_status": None, "webhook_intermediate_status": False,
                "number": 12, "duration": None, "cold_start_duration": None,
                "cold_start_duration_total": None, "run_duration": None,
                "outputs": run.get("outputs", []) if status == "success" else []}

    def create(self, body, v1):
        dep = body.get("deployment_id")
        if v1:
            if dep not in DEPLOYMENTS:
                return json_reply({"error": "Deployment not found"}, 500)
        else:
            if not isinstance(dep, str) or not UUID_RE.match(dep):
                return json_reply({"detail": [{"type": "uuid_parsing", "loc": ["body", "deployment_id"],
                                               "msg": "Input should be a valid UUID, invalid "
                                                      "character: expected an optional prefix of "
                                                      "`urn:uuid:` followed by [0-9a-fA-F-], "
                                                      "found `n` at 1", "input": dep}]}, 422)
            inputs = body.get("inputs", {})
            if not isinstance(inputs, dict):
                return json_reply({"detail": [{"type": "dict_type", "loc": ["body", "inputs"],
                                               "msg": "Input should be a valid dictionary",
                                               "input": inputs}]}, 422)
            if dep not in DEPLOYMENTS:
                return json_reply({"detail": "Deployment not found"}, 404)
        rid = str(uuid.uuid4())
        with self.lock:
            self.runs[rid] = {"id": rid, "created": time.time(), "inputs": body.get("inputs") or {},
                              "gpu": body.get("gpu")}
        return json_reply({"run_id": rid})

    def route(self, handler, method, path, query, raw):
        if path.startswith("/files/") and method == "GET":
            data = self.files.get(path[len("/files/"):])
            if data is None:
                return Reply(404, "Not Found")
            ct = "video/mp4" if path.endswith(".mp4") else "image/png"
            return Reply(200, data, {}, ct)
        if not path.startswith("/api/"):
            return None
        v1 = bool(self.setting("v1")) and path == "/api/run"
        denied = self.authorize(handler, v1)
        if denied is not None:
            return denied
        body = {}
        if method == "POST" and raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return json_reply({"detail": [{"type": "json_invalid", "loc": ["body", 0],
                                               "msg": "JSON decode error", "input": {}}]}, 422)
        with self.lock:
            if method == "POST" and path in ("/api/run/deployment/queue", "/api/run"):
                return self.create(body, v1)
            if method == "GET" and path == "/api/run":
                rid = query.get("run_id", [""])[0]
                run = self.runs.get(rid)
                if run is None:
                    if v1:
                        return json_reply({"code": 400, "message": "Workflow not found"}, 400)
                    return json_reply({"detail": "Run not found"}, 404)
                return json_reply(self.run_object(run, v1))
            m = re.match(r"^/api/run/([^/]+)(/cancel)?$", path)
            if m and method == "GET" and not m.group(2):
                run = self.runs.get(m.group(1))
                if run is None:
                    return json_reply({"detail": "Run not found"}, 404)
                return json_reply(self.run_object(run, False))
            if m and method == "POST" and m.group(2):
                rid = m.group(1)
                self.cancels.append(rid)
                run = self.runs.get(rid)
                if run is None:
                    return json_reply({"detail": "Error cancel function Run not found"}, 500)
                if self.status_of(run)[0] not in TERMINAL:
                    run["final"] = "cancelled"
                return json_reply({"status": "success", "message": "Function cancelled"})
        return None


if __name__ == "__main__":
    serve(ComfyDeploy, "ComfyDeploy stand-in")
