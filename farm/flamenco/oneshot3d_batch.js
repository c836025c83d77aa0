// SPDX-License-Identifier: GPL-3.0-or-later
//
// Flamenco job type: One Shot 3D Photo batch.
//
// Turns "this folder of photos" into one task per shard. Each task runs the extension's
// headless command on a worker:
//
//   {blender} -b --command oneshot3d <photos_dir> --output <output_dir>
//             --shard <i> --num-shards <n> --presets SWING,CIRCLE --frames 90
//             --resolution-scale 100 --engine CYCLES --samples 16 [--overwrite] [extra args]
//
// The command discovers the photos itself (recursively, in a stable order) and takes every
// n-th one starting at i, so the shards cover every photo exactly once without this script
// having to list the folder (a job compiler cannot read the file system). Shards share the
// output folder; each writes summary.shard-<i>-of-<n>.json and merges all of them into
// summary.json (see pipeline/runtime/batch_summary.py). Re-running the job skips photos that
// are done.
//
// Install: copy this file into the `scripts/` folder next to the flamenco-manager
// executable and restart the Manager; the job type is then "oneshot3d_batch".
// See farm/flamenco/README.md.

const PRESETS = ["SWING", "VERTICAL", "CIRCLE", "ZOOM_IN", "DOLLY_ZOOM", "KEN_BURNS"];
const ENGINES = ["CYCLES", "EEVEE", "WORKBENCH"];
const MAX_SHARDS = 10000;

const JOB_TYPE = {
    label: "One Shot 3D Photo: Batch",
    description: "Turn every photo in a folder into a 3D photo .blend and camera-move videos, " +
        "split into shards that run on separate workers",
    settings: [
        {
            key: "photos_dir", type: "string", subtype: "dir_path", required: true,
            label: "Photos Folder",
            description: "Folder with the photos (searched recursively); must be reachable " +
                "from every worker, e.g. on shared storage",
        },
        {
            key: "output_dir", type: "string", subtype: "dir_path", required: true,
            label: "Output Folder",
            description: "Shared folder for <photo>/<photo>.blend, <photo>/<photo>_<preset>.mp4 " +
                "and summary.json",
        },
        {
            key: "shards", type: "int32", default: 4, required: true, label: "Shards",
            propargs: { min: 1, max: MAX_SHARDS },
            description: "Number of tasks the folder is split into (at most one worker each)",
        },
        {
            key: "presets", type: "string", default: "SWING", required: true, label: "Presets",
            description: "Comma-separated camera moves, one video each: " + PRESETS.join(", "),
        },
        {
            key: "frames", type: "int32", default: 90, required: true, label: "Frames",
            propargs: { min: 2, max: 100000 },
            description: "Length of each video in frames",
        },
        {
            key: "resolution_scale", type: "int32", default: 100, label: "Resolution %",
            propargs: { min: 1, max: 400 },
            description: "Render size as a percentage of the photo's size",
        },
        {
            key: "engine", type: "string", choices: ENGINES, default: "CYCLES", label: "Engine",
            description: "Render engine (EEVEE needs a GPU with OpenGL on the worker)",
        },
        {
            key: "samples", type: "int32", default: 16, label: "Samples",
            propargs: { min: 1, max: 65536 },
            description: "Render samples per pixel (Cycles / EEVEE)",
        },
        {
            key: "overwrite", type: "bool", default: false, label: "Overwrite",
            description: "Redo photos whose outputs already exist (otherwise they are skipped, " +
                "so re-running a job resumes it)",
        },
        {
            key: "extra_args", type: "string", default: "", label: "Extra Options",
            description: "More options for the oneshot3d command, separated by spaces " +
                "(quote values that contain spaces)",
        },
        {
            key: "blender_exe", type: "string", default: "{blender}", label: "Blender",
            description: "Blender executable on the workers; {blender} is the Manager's " +
                "per-platform variable",
        },
    ],
};

function compileJob(job) {
    const settings = withDefaults(job.settings || {});
    const count = checkInt("shards", settings.shards, 1, MAX_SHARDS);
    const photos = checkPath("photos_dir", settings.photos_dir);
    const output = checkPath("output_dir", settings.output_dir);
    const common = commonArgs(settings);
    const exe = String(settings.blender_exe || "").trim();
    if (!exe) {
        throw new Error("blender_exe is empty: set it to {blender} or the path of Blender.");
    }

    print(`oneshot3d batch: ${photos} -> ${output} in ${count} shard(s)`);
    for (let index = 0; index < count; index++) {
        // Shards are independent: no dependencies, so idle workers pick them up in parallel.
        const task = author.Task(`oneshot3d-shard-${pad(index, count)}-of-${count}`, "blender");
        task.addCommand(author.Command("exec", {
            exe: exe,
            args: [
                "-b", "--command", "oneshot3d", photos,
                "--output", output,
                "--shard", String(index),
                "--num-shards", String(count),
            ].concat(common),
        }));
        job.addTask(task);
    }
}

// The Manager passes the submitted settings; fill in what a hand-written submission left out.
function withDefaults(given) {
    const out = {};
    for (const setting of JOB_TYPE.settings) {
        const value = given[setting.key];
        out[setting.key] = (value === undefined || value === null) ? setting.default : value;
    }
    return out;
}

function commonArgs(settings) {
    const args = [
        "--presets", checkPresets(settings.presets),
        "--frames", String(checkInt("frames", settings.frames, 2, 100000)),
        "--resolution-scale", String(checkInt("resolution_scale", settings.resolution_scale, 1, 400)),
        "--engine", checkChoice("engine", settings.engine, ENGINES),
        "--samples", String(checkInt("samples", settings.samples, 1, 65536)),
    ];
    if (settings.overwrite === true || settings.overwrite === "true") {
        args.push("--overwrite");
    }
    return args.concat(splitArgs(String(settings.extra_args || "")));
}

function checkPath(key, value) {
    const text = String(value === undefined || value === null ? "" : value).trim();
    if (!text) {
        throw new Error(`${key} is empty: give a folder that every worker can reach.`);
    }
    return text;
}

function checkInt(key, value, lo, hi) {
    const n = Number(value);
    if (!Number.isInteger(n) || n < lo || n > hi) {
        throw new Error(`${key} = ${value}: must be a whole number from ${lo} to ${hi}.`);
    }
    return n;
}

function checkChoice(key, value, choices) {
    const text = String(value === undefined || value === null ? "" : value).trim().toUpperCase();
    if (choices.indexOf(text) < 0) {
        throw new Error(`${key} = ${value}: must be one of ${choices.join(", ")}.`);
    }
    return text;
}

function checkPresets(value) {
    const names = String(value === undefined || value === null ? "" : value)
        .split(/[\s,;]+/)
        .filter((name) => name.length > 0)
        .map((name) => name.toUpperCase());
    if (names.length === 0) {
        throw new Error(`presets is empty: choose one or more of ${PRESETS.join(", ")}.`);
    }
    const unique = [];
    for (const name of names) {
        if (PRESETS.indexOf(name) < 0) {
            throw new Error(`presets: unknown preset ${name}; choose from ${PRESETS.join(", ")}.`);
        }
        if (unique.indexOf(name) < 0) {
            unique.push(name);
        }
    }
    return unique.join(",");
}

// Split a command-line fragment on spaces, keeping "double" or 'single' quoted parts whole.
function splitArgs(text) {
    const args = [];
    let current = "";
    let quote = null;
    let started = false;
    for (const ch of text) {
        if (quote) {
            if (ch === quote) {
                quote = null;
            } else {
                current += ch;
            }
        } else if (ch === '"' || ch === "'") {
            quote = ch;
            started = true;
        } else if (/\s/.test(ch)) {
            if (started) {
                args.push(current);
                current = "";
                started = false;
            }
        } else {
            current += ch;
            started = true;
        }
    }
    if (quote) {
        throw new Error(`extra_args: unbalanced ${quote} quote in ${JSON.stringify(text)}.`);
    }
    if (started) {
        args.push(current);
    }
    return args;
}

// Zero-pad shard numbers so tasks sort in order in the web interface.
function pad(index, count) {
    let text = String(index);
    const width = String(count - 1).length;
    while (text.length < width) {
        text = "0" + text;
    }
    return text;
}
