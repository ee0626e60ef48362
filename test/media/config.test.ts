import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { parseMediaServer } from '../../src/media/pool.js';
import { promptFile } from '../../src/media/prompts.js';
import { projectPath } from '../../src/util/paths.js';

describe('media configuration', () => {
  it('MEDIA_SERVER empty (the default) means no media server; WARNING_SECONDS defaults to 30', () => {
    const c = loadConfig({});
    expect(c.media.servers).toEqual([]);
    expect(c.media.warningSeconds).toBe(30);
    expect(loadConfig({ MEDIA_SERVER: '' }).media.servers).toEqual([]);
  });
  it('a comma list of host:port:secret, the secret may hold colons', () => {
    const c = loadConfig({ MEDIA_SERVER: 'fs1.example:8021:ClueCon, 10.0.0.7:8022:a:b:c' });
    expect(c.media.servers.map(parseMediaServer)).toEqual([
      { host: 'fs1.example', port: 8021, secret: 'ClueCon' },
      { host: '10.0.0.7', port: 8022, secret: 'a:b:c' },
    ]);
  });
  it('a bad entry stops start-up naming the setting, never repeating the secret', () => {
    expect(() => loadConfig({ MEDIA_SERVER: 'fs1:notaport:TopSecret' })).toThrow(/media\.servers.*host:port:secret/);
    expect(() => loadConfig({ MEDIA_SERVER: 'fs1:notaport:TopSecret' })).not.toThrow(/TopSecret/);
    expect(() => loadConfig({ WARNING_SECONDS: '2' })).toThrow(/warningSeconds/);
    expect(() => parseMediaServer('h:99999:x')).toThrow(/port 1-65535/);
  });
  it('prompt files: <dir>/<language>/<prompt>.wav, the project\'s prompts/ by default', () => {
    expect(promptFile('/srv/prompts', 'low_credit', 'en')).toBe('/srv/prompts/en/low_credit.wav');
    expect(promptFile('', 'no_balance', 'zh')).toBe(projectPath('prompts', 'zh', 'no_balance.wav'));
  });
});
