"""Render bench results as docs/benchmarks.md: numbers from this run only, each next to its baseline."""

from __future__ import annotations

from typing import Any

DESIGN = """\
## The receive path, and why it is not aiortc's

aiortc's audio receiver puts every packet through `JitterBuffer(capacity=16, prefetch=4)`: a frame leaves only once
4 later frames have arrived (≈ 80 ms), and after a lost packet it waits for the hole until 16 packets are queued and
then stays that full, so one loss costs ~200–300 ms for the rest of the call (aiortc#543). Frames then go through a
decoder thread per call and back to the event loop through an unbounded queue.

Our path (`web/media/rtc/uplink.py`) keeps aiortc's `RTCRtpReceiver` for SRTP, RTCP and statistics and replaces only
its jitter buffer object with `DirectAudioPath`. Each depayloaded packet is decoded at once on the event loop (an
Opus RTP packet is a complete frame: nothing to reassemble), resampled to 24 kHz mono on a single-threaded FFmpeg
graph, and handed to the call's bounded uplink queue, whose task sends it to the upstream session. Packets that
arrive after a later one was decoded are dropped instead of waited for — the consumer is a speech model, for which a
missing 20 ms is inaudible — and a gap left by lost packets is filled with up to 200 ms of silence, so the upstream's
audio clock stays in step with the wall clock. Nothing is buffered, so a loss burst leaves nothing behind: the next
packet is decoded the moment it arrives. aiortc's decoder thread is stopped, and FFmpeg is told to assume one CPU, so a
call adds no threads.

Measurement points, identical for both paths: *arrival* is the entry of the receiver's `_handle_rtp_packet` (after
SRTP), *leaves for the upstream* is the session's `append_audio` call. Loss is injected at that same tap, before
the receiver sees the packet, by dropping packets (2 % at random, seed 7; or 5 consecutive packets 5 s in).
"""


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "never"
    if isinstance(value, float) and value != value:
        return "–"
    return f"{value}{unit}"


def _ratio(ours: Any, base: Any) -> str:
    try:
        return f"{float(base) / float(ours):.0f}×" if float(ours) > 0 else "–"
    except (TypeError, ValueError):
        return "–"


def _latency(results: dict[str, Any]) -> list[str]:
    lat = results["receive_latency"]
    lines = ["## 1. Server receive latency (packet arrives → its audio leaves for the upstream)", "",
             *_when(results, "latency"),
             "| Scenario | Path | Frames | Median | p99 | Frames > 40 ms | Stock ÷ ours (median) |",
             "|---|---|---|---|---|---|---|"]
    for scenario in ("0% loss", "2% loss", "burst"):
        rows = lat.get(scenario, {})
        ours, stock = rows.get("ours", {}), rows.get("stock aiortc", {})
        label = "100 ms loss burst at 5 s" if scenario == "burst" else scenario
        for name, row in (("ours", ours), ("stock aiortc", stock)):
            ratio = _ratio(ours.get("median_ms"), stock.get("median_ms")) if name == "stock aiortc" else ""
            lines.append(f"| {label} | {name} | {row.get('frames')} | {_fmt(row.get('median_ms'), ' ms')} | "
                         f"{_fmt(row.get('p99_ms'), ' ms')} | {_fmt(row.get('over_target_pct'), ' %')} | {ratio} |")
    burst = lat.get("burst", {})
    lines += ["", "After the burst (median before → after; recovery = time from the first packet after the burst until "
              "every later frame is ≤ 40 ms):", "",
              "| Path | Before | After | Recovery |", "|---|---|---|---|"]
    for name in ("ours", "stock aiortc"):
        row = burst.get(name, {})
        recovery = row.get("recovery_ms")
        before, after = _fmt(row.get("before_median_ms"), " ms"), _fmt(row.get("after_median_ms"), " ms")
        recovered = "not within the run" if recovery is None else f"{recovery} ms"
        lines.append(f"| {name} | {before} | {after} | {recovered} |")
    return [*lines, ""]


def _turn(results: dict[str, Any]) -> list[str]:
    turn = results["turn"]
    ours, stock = turn["ours"], turn["stock aiortc"]
    silence = turn["vad_silence_ms"]
    return [
        "## 2. End of user speech → first reply audio leaving the server", "", *_when(results, "turn"),
        "The fake Realtime server (Azure GA path, over a real WebSocket) answers at once; its server VAD ends a "
        f"turn after {silence} ms of silence, like the real service's default, so ~{silence} ms of each number is "
        "that wait. "
        "End of speech = arrival of the last voiced frame at the server; first reply audio = the first reply frame "
        "handed to aiortc's sender.", "",
        "| Path | Turns | Median | p95 | Median minus the VAD silence |", "|---|---|---|---|---|",
        f"| ours | {ours['turns']} | {ours['median_ms']} ms | {ours['p95_ms']} ms | "
        f"{round(ours['median_ms'] - silence, 1)} ms |",
        f"| stock aiortc | {stock['turns']} | {stock['median_ms']} ms | {stock['p95_ms']} ms | "
        f"{round(stock['median_ms'] - silence, 1)} ms |", "",
        "Ours, broken down (medians): end of speech → upstream's `speech_stopped` "
        f"{ours['speech_end_to_speech_stopped_ms']} ms "
        f"(the VAD's {silence} ms plus one frame and the uplink), `speech_stopped` → first audio delta "
        f"{ours['speech_stopped_to_first_delta_ms']} ms (the fake), first delta → reply frame out "
        f"{ours['first_delta_to_audio_out_ms']} ms (waiting for the next 20 ms send slot: 0–20 ms, and in this "
        "synthetic run its phase is fixed because client and server both tick every 20 ms).", "",
    ]


def _connect(results: dict[str, Any]) -> list[str]:
    browser = results.get("connect_browser", {"skipped": "--skip-browser"})
    floor = results["connect_aiortc"]
    lines = ["## 3. Click → connected in the browser", "", *_when(results, "connect")]
    if "skipped" in browser:
        lines.append(f"Browser runs skipped ({browser['skipped']}).")
    else:
        lines += [
            f"Headless Chromium {browser['ok']}/{browser['runs']} runs, echo mode, loopback-only network namespace, "
            "fake microphone; from the click on 「开始录音」 to `connectionState == connected`:", "",
            "| Measure | Median |", "|---|---|",
            f"| click → connected | {browser['median_click_to_connected_ms']} ms "
            f"(runs: {', '.join(str(v) for v in browser['click_to_connected_ms'])}) |",
            "| of which click → offer sent (microphone, offer, ICE gathering) | "
            f"{browser['median_click_to_offer_sent_ms']} ms |",
            f"| of which offer → answer (the server) | {browser['median_offer_to_answer_ms']} ms |",
            f"| click → reply heard (echo of a ~5.6 s utterance) | {browser['median_click_to_reply_heard_ms']} ms |",
        ]
    lines += ["", f"Protocol floor, same run: an aiortc client's offer → connected against the production `Call` "
              f"(no microphone, no page): median {floor['median_offer_to_connected_ms']} ms over {floor['runs']} runs.",
              ""]
    return lines


def _capacity(results: dict[str, Any]) -> list[str]:
    cap = results["capacity"]
    lines = ["## 4. Concurrent two-way calls: CPU, memory, threads", "", *_when(results, "capacity"),
             "Server in its own process (`bench/server.py`), every call carrying audio both ways all the time (the "
             "upstream is a stand-in that streams a reply continuously); light aiortc clients in the benchmark process "
             "(pre-encoded Opus out, packets counted, not decoded). Each level is measured over 10 s. *ok* = < 1 % "
             "of outbound frames more than 20 ms late, ≥ 99 % of inbound frames handed to the upstream, clients "
             "receive ≥ 99 % of their packets. *≤ 40 ms* additionally needs < 1 % of inbound frames slower than "
             "40 ms from arrival to the upstream. The machine was shared: each level is the first of up to 4 "
             "windows in which other processes used < 30 % of a core (else the quietest); *Other load* is their CPU "
             "in that window.",
             "",
             "| Path | Calls | Server CPU | CPU per call | RSS | RSS per call | Threads per call | Late out | "
             "Inbound > 40 ms | Client CPU | Other load | Loop lag max | ok | ≤ 40 ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("ours", "stock aiortc"):
        for row in cap[name]["levels"]:
            lines.append(
                f"| {name} | {row['calls']} | {row['server_cpu_pct']} % | {row['cpu_per_call_pct']} % | "
                f"{row['rss_mb']} MB | {row['rss_per_call_mb']} MB | {row['threads_per_call']} | "
                f"{row['downlink_late_pct']} % | {row['uplink_late_pct']} % | {row['client_cpu_pct']} % | "
                f"{row.get('other_cpu_pct', '–')} % | {row.get('max_loop_lag_ms', '–')} ms | "
                f"{'yes' if row['ok'] else 'no'} | {'yes' if row['ok_within_40ms'] else 'no'} |")
    lines += ["", "| Path | Most calls ok | Most calls ok and ≤ 40 ms | Idle server RSS | Idle threads |",
              "|---|---|---|---|---|"]
    for name in ("ours", "stock aiortc"):
        c = cap[name]
        lines.append(f"| {name} | {c['max_calls_ok']} | {c['max_calls_ok_within_40ms']} | "
                     f"{c['baseline']['rss_mb']} MB | {c['baseline']['threads']} |")
    lines += ["", "CPU is a percentage of one core (the machine has two; client and server share them, so past "
              "~100 % server CPU the clients compete with it). RSS per call is (RSS − idle RSS) ÷ calls; the first "
              "call also pays one-off costs (certificates, codec tables).", ""]
    return lines


def _when(results: dict[str, Any], section: str) -> list[str]:
    meta = results.get("measured", {}).get(section)
    if not meta:
        return []
    load = ", ".join(str(x) for x in meta["load_average"])
    return [f"*Measured {meta['date']}; load average at the start: {load}.*", ""]


def _recovery(row: dict[str, Any]) -> str:
    if row.get("recovery_ms") is None:
        return f"not within the run (median after the burst: {row.get('after_median_ms')} ms)"
    return f"{row['recovery_ms']} ms after the first packet that followed it"


def _level(rows: list[dict[str, Any]], calls: int) -> dict[str, Any]:
    return next((r for r in rows if r["calls"] == calls), {})


def _summary(results: dict[str, Any]) -> list[str]:
    lat, turn, cap = results["receive_latency"], results["turn"], results["capacity"]
    ours_cap, stock_cap = cap["ours"], cap["stock aiortc"]
    common = max((r["calls"] for r in stock_cap["levels"] if r["ok"]), default=1)
    o, b = _level(ours_cap["levels"], common), _level(stock_cap["levels"], common)
    browser = results.get("connect_browser", {})
    rows = [
        ("Receive latency, 0 % loss (median / p99)",
         f"{lat['0% loss']['ours']['median_ms']} / {lat['0% loss']['ours']['p99_ms']} ms",
         f"{lat['0% loss']['stock aiortc']['median_ms']} / {lat['0% loss']['stock aiortc']['p99_ms']} ms"),
        ("Receive latency, 2 % loss (median / p99)",
         f"{lat['2% loss']['ours']['median_ms']} / {lat['2% loss']['ours']['p99_ms']} ms",
         f"{lat['2% loss']['stock aiortc']['median_ms']} / {lat['2% loss']['stock aiortc']['p99_ms']} ms"),
        ("Back under 40 ms after a 100 ms loss burst", _recovery(lat["burst"]["ours"]),
         _recovery(lat["burst"]["stock aiortc"])),
        ("End of speech → first reply audio out (median, incl. 500 ms VAD)",
         f"{turn['ours']['median_ms']} ms", f"{turn['stock aiortc']['median_ms']} ms"),
        ("Click → connected in Chromium (median)", _fmt(browser.get("median_click_to_connected_ms"), " ms"), "–"),
        (f"CPU per call at {common} two-way calls (% of a core)", f"{o.get('cpu_per_call_pct')} %",
         f"{b.get('cpu_per_call_pct')} %"),
        (f"RSS per call at {common} calls", f"{o.get('rss_per_call_mb')} MB", f"{b.get('rss_per_call_mb')} MB"),
        ("Threads per call", str(o.get("threads_per_call")), str(b.get("threads_per_call"))),
        ("Two-way calls with < 1 % late frames (this 2-core machine, clients included)",
         str(ours_cap["max_calls_ok"]), str(stock_cap["max_calls_ok"])),
    ]
    out = ["## Summary", "", "| Measure | Ours | Stock aiortc (baseline, same run) |", "|---|---|---|"]
    out += [f"| {name} | {ours} | {base} |" for name, ours, base in rows]
    return [*out, ""]


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    head = [
        "# Voice path benchmarks", "",
        "Generated by `.venv/bin/python -m bench.voice`" + (" --quick" if results.get("quick") else "") +
        ". Each section's baseline was measured in the same run as its own numbers; each section says when it ran. "
        "Rerun the command to refresh them (`--only <section>` reruns one section).", "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gb']} GB RAM, {m['os']}; Python {m['python']}, "
        f"aiortc {m['aiortc']}, PyAV {m['av']}. Everything runs on loopback. The machine was shared with other "
        "work (test suites of other sessions); the load average is given per section, other processes' CPU per "
        "capacity level, and that load shows up mostly in the p99 columns and in section 4.", "",
        DESIGN,
    ]
    body = [*_summary(results), *_latency(results), *_turn(results), *_connect(results), *_capacity(results)]
    body += ["", "More than one process (workers on one host): see [benchmarks-workers.md](benchmarks-workers.md) "
             "(`python -m bench.workers`)."]
    return "\n".join([*head, *body]) + "\n"
