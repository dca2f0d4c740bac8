/** The CDK app entry point (`cdk synth`, `cdk deploy`); see lib/app.ts. */
import { createVtoApp } from '../lib/app.ts';

createVtoApp().app.synth();
