/** Entry point of the `farm` command line. */
import { Command, Option } from 'commander';
import { SceneError } from '../shared/scene.ts';
import { BACKEND_CHOICES } from '../worker/render/backend.ts';
import { renderCommand } from './render.ts';

const program = new Command('farm').description('An open, distributed GPU render farm').showHelpAfterError();

program
  .command('render')
  .description('render a frame (or a tile of it) locally and write a PNG')
  .argument('<scene>', 'scene JSON file')
  .option('--frame <n>', 'frame number', '0')
  .option('--tile <x,y,w,h>', 'render only this rectangle')
  .option('--size <WxH>', 'override the scene resolution')
  .option('--spp <n>', 'override samples per pixel')
  .addOption(new Option('--backend <name>', 'compute backend').choices(BACKEND_CHOICES as string[]).default('auto'))
  .option('--out <file>', 'output PNG (default <scene>-f<frame>.png)')
  .option('--hash', 'print the canonical hash (a CID) as the last line of stdout')
  .action(renderCommand);

try {
  await program.parseAsync();
} catch (e) {
  const message = e instanceof SceneError ? `invalid scene: ${e.message}` : (e as Error).message;
  process.stderr.write(`farm: ${message}\n`);
  process.exitCode = 2;
}
