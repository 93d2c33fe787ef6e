// The LGWAN repository alone, in its own process so that its memory can be read from /proc.
import { loadConfig } from '../src/config/config.ts';
import { silentLogger } from '../src/core/logger.ts';
import { openLgwanSide } from '../src/sides/lgwan.ts';

const [configFile, port] = process.argv.slice(2);
const config = await loadConfig(configFile);
const side = await openLgwanSide(config.lgwan, process.env.BENCH_DEBUG ? (await import('../src/core/logger.ts')).createLogger('repository', 'error') : silentLogger);
const { url } = await side.listen(Number(port));
console.log(`ready ${url}`);
