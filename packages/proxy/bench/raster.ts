/**
 * Rasterizer benchmark: a 512×512 frame of a ~10k-triangle textured sphere (uv-sphere 50 × 100), median of 30 runs,
 * against a numpy reference rasterization of the same mesh (per-triangle bounding box, vectorised edge functions,
 * z-buffer) run in the same process tree through /usr/bin/python3.
 *
 * Run: `node --conditions=source --import tsx packages/proxy/bench/raster.ts`
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rasterize, lookAtCamera } from '@consistent-avatar/proxy';

function uvSphere(rings: number, segments: number) {
  const pos: number[] = [], uv: number[] = [], faces: number[] = [];
  for (let r = 0; r <= rings; r++) {
    const theta = (r / rings) * Math.PI;
    for (let s = 0; s <= segments; s++) {
      const phi = (s / segments) * 2 * Math.PI;
      pos.push(Math.sin(theta) * Math.sin(phi), Math.cos(theta), Math.sin(theta) * Math.cos(phi));
      uv.push(s / segments, 1 - r / rings);
    }
  }
  const idx = (r: number, s: number) => r * (segments + 1) + s;
  for (let r = 0; r < rings; r++) {
    for (let s = 0; s < segments; s++) {
      faces.push(idx(r, s), idx(r + 1, s), idx(r + 1, s + 1), idx(r, s), idx(r + 1, s + 1), idx(r, s + 1));
    }
  }
  return { positions: new Float32Array(pos), faces: new Uint32Array(faces), uvs: new Float32Array(uv) };
}

const mesh = uvSphere(50, 100);
const numTris = mesh.faces.length / 3;
const cam = lookAtCamera({ eye: [0, 0, 3], target: [0, 0, 0], fx: 700, fy: 700, width: 512, height: 512 });
const texSize = 256;
const tex = { width: texSize, height: texSize, channels: 3, data: new Float32Array(texSize * texSize * 3).map((_, i) => ((i * 2654435761) % 1000) / 1000) };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
/** Wall-clock and CPU time per call (CPU time = this process's user + system time: robust when the machine is shared). */
function time(label: string, f: () => unknown, runs = 30): number {
  for (let i = 0; i < 3; i++) f();
  const t: number[] = [], cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const m = median(t);
  console.log(`${label}: wall median ${m.toFixed(2)} ms (min ${Math.min(...t).toFixed(2)}), CPU median ${median(cpu).toFixed(2)} ms`);
  return m;
}

console.log(`load average: ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')} on ${(await import('node:os')).cpus().length} cores`);
console.log(`mesh: ${numTris} triangles, ${mesh.positions.length / 3} vertices; frame 512×512`);
const covered = rasterize(mesh, cam).mask.reduce((a, b) => a + b, 0);
console.log(`coverage: ${((covered / (512 * 512)) * 100).toFixed(1)}% of the frame`);
const tFlat = time('ours, visibility + normals (no texture)', () => rasterize(mesh, cam));
const tTex = time('ours, textured + SH-free Lambert', () => rasterize(mesh, cam, { texture: tex, shading: 'lambert' }));
const tSs = time('ours, textured, supersample 2', () => rasterize(mesh, cam, { texture: tex, supersample: 2 }), 10);

// numpy reference: same mesh, same camera, same edge-function z-buffer (vectorised per triangle's bounding box).
const dir = mkdtempSync(join(tmpdir(), 'raster-bench-'));
const meshPath = join(dir, 'mesh.json');
writeFileSync(meshPath, JSON.stringify({ positions: Array.from(mesh.positions), faces: Array.from(mesh.faces), fx: 700, cx: 256, z: 3 }));
const py = `
import json, time, numpy as np
m = json.load(open(${JSON.stringify(meshPath)}))
P = np.array(m['positions'], np.float64).reshape(-1, 3); F = np.array(m['faces']).reshape(-1, 3)
cam = P.copy(); cam[:, 1] *= -1; cam[:, 2] = m['z'] - P[:, 2]   # OpenCV camera at (0,0,3) looking at the origin
sx = m['fx'] * cam[:, 0] / cam[:, 2] + m['cx'] - 0.5; sy = m['fx'] * cam[:, 1] / cam[:, 2] + m['cx'] - 0.5
def render():
    depth = np.full((512, 512), np.inf); tri = np.full((512, 512), -1)
    for f, (a, b, c) in enumerate(F):
        x = sx[[a, b, c]]; y = sy[[a, b, c]]; z = cam[[a, b, c], 2]
        area = (x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0])
        if area >= 0: continue                           # back-facing in this setup
        x0, x1 = max(int(np.ceil(x.min())), 0), min(int(np.floor(x.max())), 511)
        y0, y1 = max(int(np.ceil(y.min())), 0), min(int(np.floor(y.max())), 511)
        if x0 > x1 or y0 > y1: continue
        X, Y = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
        w0 = ((x[2] - x[1]) * (Y - y[1]) - (y[2] - y[1]) * (X - x[1])) / area
        w1 = ((x[0] - x[2]) * (Y - y[2]) - (y[0] - y[2]) * (X - x[2])) / area
        w2 = 1 - w0 - w1
        inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0)
        zz = 1 / (w0 / z[0] + w1 / z[1] + w2 / z[2])
        sub = depth[y0:y1 + 1, x0:x1 + 1]; st = tri[y0:y1 + 1, x0:x1 + 1]
        upd = inside & (zz < sub)
        sub[upd] = zz[upd]; st[upd] = f
    return depth
render()
ts = []; cs = []
for _ in range(3):
    t0 = time.perf_counter(); c0 = time.process_time(); d = render()
    ts.append((time.perf_counter() - t0) * 1000); cs.append((time.process_time() - c0) * 1000)
print(json.dumps({'median_ms': sorted(ts)[1], 'cpu_ms': sorted(cs)[1], 'covered': int(np.isfinite(d).sum())}))
`;
const res = spawnSync('/usr/bin/python3', ['-c', py], { encoding: 'utf8' });
if (res.status === 0) {
  const ref = JSON.parse(res.stdout.trim().split('\n').pop()!) as { median_ms: number; cpu_ms: number; covered: number };
  console.log(`numpy reference (visibility only): wall median ${ref.median_ms.toFixed(1)} ms, CPU ${ref.cpu_ms.toFixed(1)} ms, covered ${ref.covered} px (ours ${covered.toFixed(0)})`);
  console.log(`ratio ours(visibility+normals) / numpy(visibility): ${(tFlat / ref.median_ms).toFixed(3)}`);
} else {
  console.log(`numpy reference unavailable: ${res.stderr.split('\n').filter(Boolean).pop()}`);
}
console.log(JSON.stringify({ triangles: numTris, ours_ms: tFlat, ours_textured_ms: tTex, ours_ss2_ms: tSs }));
