// Tests for farm/flamenco/oneshot3d_batch.js against a stand-in for Flamenco's job compiler
// API (`author`, `print`, the job object). Flamenco runs job compilers in goja as plain
// scripts with these globals; here the same script text runs in a Node `vm` context.
// Run: node --test tests/js

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const SCRIPT = path.join(here, "..", "..", "farm", "flamenco", "oneshot3d_batch.js");
const SOURCE = readFileSync(SCRIPT, "utf8");

// --- the stand-in Flamenco API --------------------------------------------------------------

class StandInTask {
    constructor(name, type) {
        this.name = name;
        this.type = type;
        this.commands = [];
        this.dependencies = [];
    }
    addCommand(command) {
        assert.ok(command && typeof command.name === "string", "addCommand needs a Command");
        this.commands.push(command);
    }
    addDependency(task) {
        assert.ok(task instanceof StandInTask, "addDependency needs a Task");
        this.dependencies.push(task);
    }
}

function load() {
    const printed = [];
    const sandbox = {
        author: {
            Task: (name, type) => new StandInTask(name, type),
            Command: (name, parameters) => ({ name, parameters }),
        },
        print: (...parts) => printed.push(parts.join(" ")),
    };
    vm.createContext(sandbox);
    // Top-level const/function declarations of a script are not properties of the context,
    // so hand them back as the script's completion value.
    const api = vm.runInContext(`${SOURCE}\n;({ JOB_TYPE, compileJob });`, sandbox, {
        filename: SCRIPT,
    });
    return { ...api, printed };
}

function compile(settings) {
    const { compileJob, printed } = load();
    const job = {
        name: "test job",
        settings,
        tasks: [],
        addTask(task) {
            assert.ok(task instanceof StandInTask, "addTask needs a Task");
            this.tasks.push(task);
        },
    };
    compileJob(job);
    return { tasks: job.tasks, printed };
}

const BASE = { photos_dir: "/farm/photos", output_dir: "/farm/out" };

function argAfter(args, flag) {
    const i = args.indexOf(flag);
    assert.ok(i >= 0, `${flag} missing from ${JSON.stringify(args)}`);
    return args[i + 1];
}

// --- JOB_TYPE --------------------------------------------------------------------------------

test("JOB_TYPE declares the settings the brief asks for", () => {
    const { JOB_TYPE } = load();
    assert.equal(typeof JOB_TYPE.label, "string");
    const keys = JOB_TYPE.settings.map((s) => s.key);
    assert.equal(new Set(keys).size, keys.length, "setting keys must be unique");
    for (const key of ["photos_dir", "output_dir", "shards", "presets", "frames",
        "resolution_scale", "engine", "samples", "blender_exe"]) {
        assert.ok(keys.includes(key), `missing setting ${key}`);
    }
    const byKey = Object.fromEntries(JOB_TYPE.settings.map((s) => [s.key, s]));
    assert.equal(byKey.blender_exe.default, "{blender}");
    assert.equal(byKey.photos_dir.subtype, "dir_path");
    assert.equal(byKey.output_dir.subtype, "dir_path");
    assert.deepEqual([...byKey.engine.choices], ["CYCLES", "EEVEE", "WORKBENCH"]);
    const types = new Set(["string", "int32", "float", "bool"]);
    for (const s of JOB_TYPE.settings) {
        assert.ok(types.has(s.type), `${s.key}: type ${s.type} is not a Flamenco setting type`);
        if (s.choices) assert.ok(s.choices.includes(s.default), `${s.key}: default not a choice`);
    }
});

// --- tasks and commands ----------------------------------------------------------------------

test("one task per shard, each running the oneshot3d command once", () => {
    const { tasks, printed } = compile({ ...BASE, shards: 4, presets: "swing, circle" });
    assert.equal(tasks.length, 4);
    assert.equal(new Set(tasks.map((t) => t.name)).size, 4, "task names must be unique");
    const shards = [];
    for (const task of tasks) {
        assert.equal(task.type, "blender");
        assert.equal(task.commands.length, 1);
        const [command] = task.commands;
        assert.equal(command.name, "exec");
        assert.equal(command.parameters.exe, "{blender}");
        const args = [...command.parameters.args];
        assert.ok(args.every((a) => typeof a === "string"), "exec args must be strings");
        assert.deepEqual([...args.slice(0, 4)], ["-b", "--command", "oneshot3d", "/farm/photos"]);
        assert.equal(argAfter(args, "--output"), "/farm/out");
        assert.equal(argAfter(args, "--num-shards"), "4");
        assert.equal(argAfter(args, "--presets"), "SWING,CIRCLE");
        assert.equal(argAfter(args, "--frames"), "90");
        assert.equal(argAfter(args, "--resolution-scale"), "100");
        assert.equal(argAfter(args, "--engine"), "CYCLES");
        assert.equal(argAfter(args, "--samples"), "16");
        assert.ok(!args.includes("--overwrite"));
        shards.push(Number(argAfter(args, "--shard")));
        assert.ok(task.name.includes(argAfter(args, "--shard")));
    }
    assert.deepEqual(shards.sort((a, b) => a - b), [0, 1, 2, 3], "every shard exactly once");
    assert.ok(printed.some((line) => line.includes("4 shard")));
});

test("shards are independent: no task waits for another", () => {
    const { tasks } = compile({ ...BASE, shards: 3 });
    for (const task of tasks) assert.deepEqual(task.dependencies, []);
});

test("task names sort in shard order", () => {
    const { tasks } = compile({ ...BASE, shards: 12 });
    const names = tasks.map((t) => t.name);
    assert.deepEqual([...names].sort(), names);
    assert.equal(names[0], "oneshot3d-shard-00-of-12");
});

test("options reach the command line", () => {
    const { tasks } = compile({
        ...BASE,
        shards: 1,
        presets: "KEN_BURNS;dolly_zoom ken_burns",
        frames: 120,
        resolution_scale: 50,
        engine: "workbench",
        samples: 4,
        overwrite: true,
        extra_args: `--depth-backend DEPTH_ANYTHING_V2 --note "two words" --x ''`,
        blender_exe: "/opt/blender 5.0/blender",
    });
    const { exe, args } = tasks[0].commands[0].parameters;
    assert.equal(exe, "/opt/blender 5.0/blender");
    assert.equal(argAfter(args, "--presets"), "KEN_BURNS,DOLLY_ZOOM");
    assert.equal(argAfter(args, "--frames"), "120");
    assert.equal(argAfter(args, "--resolution-scale"), "50");
    assert.equal(argAfter(args, "--engine"), "WORKBENCH");
    assert.equal(argAfter(args, "--samples"), "4");
    assert.ok(args.includes("--overwrite"));
    assert.deepEqual([...args.slice(-6)],
        ["--depth-backend", "DEPTH_ANYTHING_V2", "--note", "two words", "--x", ""]);
});

test("missing optional settings take the JOB_TYPE defaults", () => {
    const { tasks } = compile({ ...BASE });
    assert.equal(tasks.length, 4);
    const args = tasks[0].commands[0].parameters.args;
    assert.equal(argAfter(args, "--presets"), "SWING");
    assert.equal(tasks[0].commands[0].parameters.exe, "{blender}");
});

// --- refusals --------------------------------------------------------------------------------

for (const [label, settings, pattern] of [
    ["zero shards", { ...BASE, shards: 0 }, /shards/],
    ["fractional shards", { ...BASE, shards: 2.5 }, /shards/],
    ["no photos folder", { output_dir: "/o" }, /photos_dir/],
    ["blank output folder", { ...BASE, output_dir: "  " }, /output_dir/],
    ["unknown preset", { ...BASE, presets: "SWING,WOBBLE" }, /WOBBLE/],
    ["empty presets", { ...BASE, presets: " , " }, /presets/],
    ["unknown engine", { ...BASE, engine: "POVRAY" }, /engine/],
    ["one frame", { ...BASE, frames: 1 }, /frames/],
    ["unbalanced quote", { ...BASE, extra_args: `--note "oops` }, /quote/],
    ["empty blender", { ...BASE, blender_exe: " " }, /blender_exe/],
]) {
    test(`refuses ${label}`, () => {
        assert.throws(() => compile(settings), pattern);
    });
}
