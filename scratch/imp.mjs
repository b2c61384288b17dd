const t=performance.now();
await import('three/examples/jsm/loaders/HDRLoader.js');
console.log('three HDRLoader import ms', (performance.now()-t).toFixed(0));
